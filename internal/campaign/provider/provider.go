// Package provider sends a campaign's audience to an email provider: Mailchimp (Marketing API
// v3), SendGrid (Marketing Contacts API) or a signed JSON webhook. It knows nothing of Cairn's
// database; the campaign engine hands it contacts and records what it confirms.
//
// Every operation reports per contact. A Result lists the contacts the provider confirmed and the
// contacts it rejected (ContactError, not worth retrying as is); a contact in neither is unknown
// and must be sent again by a later attempt. Calls retry transient failures (network errors, 5xx,
// 429) with exponential backoff and full jitter, honour Retry-After and X-RateLimit-Reset, and
// never retry other 4xx answers. No secret and no email address is ever put in a log line or in
// an error returned by a call (emails in provider messages are redacted).
package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Destination kinds accepted by Config.Kind.
const (
	KindMailchimp = "mailchimp"
	KindSendGrid  = "sendgrid"
	KindWebhook   = "webhook"
)

// Contact is one person as the destination should hold them.
type Contact struct {
	Email  string            // normalised: trimmed, lower-case
	Fields map[string]string // merge fields (e.g. FNAME, CAIRN_OPEN_URL…), already final
	// Existing says the destination already holds this contact (the campaign's snapshot has
	// it), so the change is an update rather than an add. Only the webhook uses it (it reports
	// "added" and "updated" apart); Mailchimp and SendGrid upsert either way.
	Existing bool
}

// ContactError is a per-contact rejection by the provider (not retried forever). Message never
// holds an email address: the provider's text is redacted.
type ContactError struct{ Email, Code, Field, Message string }

// Error describes the rejection without the email address, so it can be logged.
func (e *ContactError) Error() string {
	var b strings.Builder
	b.WriteString("contact rejected")
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Field != "" {
		b.WriteString(" (field ")
		b.WriteString(e.Field)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Result of one operation.
//
// When the operation returns a nil error, every contact passed in is either in Failed (rejected
// by the provider for that contact) or confirmed; Confirmed lists the confirmed ones too, for
// convenience. When the operation returns an error, only the contacts in Confirmed are
// confirmed, those in Failed were rejected, and every other contact is in an unknown state: the
// caller must leave its snapshot unchanged for them and send them again on a later attempt.
// An email appears at most once across Confirmed and Failed. Repeated emails in one call are
// sent once; empty emails are ignored (the engine never passes them).
type Result struct {
	Failed    []ContactError
	Confirmed []string
}

// Destination is one configured email provider account and audience.
//
// Remove and Erase treat an email the provider does not hold as confirmed: the goal (not in the
// audience / not stored) already holds.
type Destination interface {
	// Test makes a harmless authenticated call that also checks the configured list exists.
	Test(ctx context.Context) error
	// Upsert adds or updates the contacts and makes them members of this campaign's audience
	// (Mailchimp: the static segment named Config.AudienceName; SendGrid: the list).
	Upsert(ctx context.Context, cs []Contact) (Result, error)
	// Remove takes the contacts out of this campaign's audience. In Mailchimp they are also
	// archived (consent withdrawal); in SendGrid they are removed from the list.
	Remove(ctx context.Context, emails []string) (Result, error)
	// Erase deletes the contacts permanently where the provider offers it (privacy erasure).
	Erase(ctx context.Context, emails []string) (Result, error)
}

// Leaver is implemented by every destination here. Leave takes contacts out of this campaign's
// audience only, for people who left the segment but still consent: in Mailchimp they are
// removed from the static segment and stay subscribed (the audience may serve other campaigns),
// where Remove would also archive them. SendGrid and webhook: the same as Remove.
type Leaver interface {
	Leave(ctx context.Context, emails []string) (Result, error)
}

// Config is one destination's settings as stored (secrets already opened).
type Config struct {
	Kind string // mailchimp | sendgrid | webhook
	// BaseURL overrides the provider's API root, e.g. "https://us6.api.mailchimp.com" or
	// "https://api.eu.sendgrid.com" (no /3.0 or /v3 suffix). Empty: the provider's default.
	BaseURL string
	APIKey  string // mailchimp, sendgrid
	ListID  string // mailchimp audience id; sendgrid list id
	Secret  string // webhook signing secret
	URL     string // webhook endpoint
	// BatchSize caps contacts per call; zero means the provider's maximum (Mailchimp 500,
	// SendGrid 30,000, webhook 500). Larger than the provider's maximum is a config error.
	BatchSize int
	// AudienceName names the Mailchimp static segment holding this campaign's audience.
	AudienceName string
	// FieldMap renames merge fields for SendGrid: Cairn field name → SendGrid field (a reserved
	// field such as "first_name", or a custom field id such as "e1_T"). Unmapped fields: FNAME
	// and LNAME map to first_name and last_name; the rest go to custom_fields under their name.
	FieldMap map[string]string
}

// Options are the run-time settings of a destination client. The zero value is usable.
type Options struct {
	// HTTPClient, if set, is used as is: its transport then owns the SSRF guard (see
	// GuardedTransport). Nil: a shared client whose dialer refuses private addresses unless
	// AllowPrivate.
	HTTPClient *http.Client
	// AllowPrivate lets URLs resolve to loopback, private and link-local addresses, and allows
	// plain http. For tests and for self-hosted receivers on a private network.
	AllowPrivate bool
	// MaxConns caps concurrent requests to one provider account (shared by every Destination
	// built for the same account in this process). Zero: Mailchimp 10 (also its cap), SendGrid 4,
	// webhook 1 (batches in order).
	MaxConns int
	Retry    RetryPolicy
	Now      func() time.Time // clock for signatures and rate-limit resets; nil: time.Now
	// CampaignID and SyncID go into webhook payloads.
	CampaignID, SyncID string
	// RequestTimeout bounds one HTTP attempt; zero: 60 s.
	RequestTimeout time.Duration
	// PollInterval is the first wait between SendGrid import status polls (doubling up to 10×);
	// zero: 1 s. PollTimeout bounds the whole wait for one import job; zero: 15 min.
	PollInterval, PollTimeout time.Duration
}

// New validates cfg and returns the destination client for its kind.
func New(cfg Config, opts Options) (Destination, error) {
	switch cfg.Kind {
	case KindMailchimp:
		return newMailchimp(cfg, opts)
	case KindSendGrid:
		return newSendGrid(cfg, opts)
	case KindWebhook:
		return newWebhook(cfg, opts)
	case "":
		return nil, &ConfigError{Field: "kind", Reason: "is required (mailchimp, sendgrid or webhook)"}
	default:
		return nil, &ConfigError{Field: "kind", Reason: fmt.Sprintf("%q is not one of mailchimp, sendgrid, webhook", cfg.Kind)}
	}
}

var (
	_ Leaver = (*mailchimp)(nil)
	_ Leaver = (*sendgrid)(nil)
	_ Leaver = (*webhook)(nil)
)
