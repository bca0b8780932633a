package campaign

// Tracking tokens and links. A contact's token signs (campaign, customer) under the "tracking"
// purpose; it is the same for every email of the campaign, so a provider template builds the
// open pixel and click URLs from one merge field. A tracked link signs (campaign, target URL)
// under "tracking-link", once per link of the template; a click needs both, so neither a
// token from another campaign nor an altered target passes, and /t/c never redirects to a URL
// Cairn did not sign for that campaign.

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// Merge fields every contact carries when tracking is configured (Mailchimp merge tags are at
// most 10 characters).
const (
	FieldOpen  = "CRN_OPEN"  // the open pixel URL: <base>/t/o/<token>.gif
	FieldClick = "CRN_CLICK" // the click URL prefix: <base>/t/c/<token>; the link adds ?u=…&l=…
	FieldToken = "CRN_TOKEN" // the contact's token alone
)

const (
	purposeTracking = "tracking"
	purposeLink     = "tracking-link"
	tokenVersion    = 1
	linkMACBytes    = 16
	maxTargetLen    = 2048
)

// ErrBadToken means a tracking token or link signature is missing, malformed or altered.
var ErrBadToken = errors.New("tracking: token invalid or altered")

// Signer signs and verifies short tokens (internal/secret's Box implements it).
type Signer interface {
	Sign(purpose string, payload []byte) string
	Verify(purpose, token string) ([]byte, error)
	MAC(purpose string, data []byte) []byte
}

// Tracking builds and checks tracking tokens and links. BaseURL is the public URL of cairn
// serve as recipients reach it (CAIRN_PUBLIC_URL), without a trailing slash.
type Tracking struct {
	Signer  Signer
	BaseURL string
}

// Token is the contact's signed token: version, campaign id, customer id.
func (t *Tracking) Token(campaignID, customerID uuid.UUID) string {
	payload := make([]byte, 0, 33)
	payload = append(payload, tokenVersion)
	payload = append(payload, campaignID[:]...)
	payload = append(payload, customerID[:]...)
	return t.Signer.Sign(purposeTracking, payload)
}

// ParseToken verifies a token made by Token and returns its campaign and customer.
func (t *Tracking) ParseToken(token string) (campaignID, customerID uuid.UUID, err error) {
	if len(token) > 200 {
		return uuid.Nil, uuid.Nil, ErrBadToken
	}
	p, err := t.Signer.Verify(purposeTracking, token)
	if err != nil || len(p) != 33 || p[0] != tokenVersion {
		return uuid.Nil, uuid.Nil, ErrBadToken
	}
	copy(campaignID[:], p[1:17])
	copy(customerID[:], p[17:33])
	return campaignID, customerID, nil
}

// Fields returns the tracking merge fields of one contact.
func (t *Tracking) Fields(campaignID, customerID uuid.UUID) map[string]string {
	tok := t.Token(campaignID, customerID)
	return map[string]string{
		FieldToken: tok,
		FieldOpen:  t.BaseURL + "/t/o/" + tok + ".gif",
		FieldClick: t.BaseURL + "/t/c/" + tok,
	}
}

// LinkQuery returns the query string ("?u=…&l=…") that makes target a tracked link of the
// campaign, to append to the contact's CRN_CLICK. target must be an absolute http(s) URL.
func (t *Tracking) LinkQuery(campaignID uuid.UUID, target string) (string, error) {
	if err := checkTarget(target); err != nil {
		return "", err
	}
	return "?u=" + url.QueryEscape(target) + "&l=" + t.linkMAC(campaignID, target), nil
}

// Template returns the tracked link of target in the template syntax of a destination kind:
// Mailchimp *|CRN_CLICK|*, SendGrid {{CRN_CLICK}}; other kinds get the query string alone.
func (t *Tracking) Template(kind string, campaignID uuid.UUID, target string) (string, error) {
	q, err := t.LinkQuery(campaignID, target)
	if err != nil {
		return "", err
	}
	switch kind {
	case "mailchimp":
		return "*|" + FieldClick + "|*" + q, nil
	case "sendgrid":
		return "{{" + FieldClick + "}}" + q, nil
	}
	return q, nil
}

// CheckLink verifies that target with signature l is a tracked link of the campaign.
func (t *Tracking) CheckLink(campaignID uuid.UUID, target, l string) error {
	if checkTarget(target) != nil || !hmac.Equal([]byte(l), []byte(t.linkMAC(campaignID, target))) {
		return ErrBadToken
	}
	return nil
}

func (t *Tracking) linkMAC(campaignID uuid.UUID, target string) string {
	data := make([]byte, 0, 16+len(target))
	data = append(data, campaignID[:]...)
	data = append(data, target...)
	return base64.RawURLEncoding.EncodeToString(t.Signer.MAC(purposeLink, data)[:linkMACBytes])
}

// checkTarget accepts absolute http and https URLs with a host, up to 2,048 characters.
func checkTarget(target string) error {
	if len(target) > maxTargetLen {
		return fmt.Errorf("%w: url: at most %d characters", ErrInvalidInput, maxTargetLen)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(target, "\r\n") {
		return fmt.Errorf("%w: url: must be an absolute http or https URL", ErrInvalidInput)
	}
	return nil
}
