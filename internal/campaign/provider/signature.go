package provider

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook batch's signature: "t=<unix>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">". The timestamp is signed with the body, so a receiver that checks its age
// rejects a replayed request.
const SignatureHeader = "X-Cairn-Signature"

// DeliveryHeader carries a batch's id, the same on every retry of that batch, so a receiver can
// drop a retry of a batch it already applied.
const DeliveryHeader = "X-Cairn-Delivery"

// Signature verification failures.
var (
	ErrSignatureMissing  = errors.New("webhook signature missing or malformed")
	ErrSignatureMismatch = errors.New("webhook signature does not match")
	ErrSignatureExpired  = errors.New("webhook signature timestamp outside the tolerance")
)

// SignWebhook returns the X-Cairn-Signature value for body sent at t.
func SignWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a received X-Cairn-Signature header against body: one of its v1 values
// must be the HMAC of "<t>.<body>" under secret, and t must lie within tolerance of now (either
// side). Several v1 values are allowed so a sender can sign with old and new secrets while one
// is rotated.
func VerifyWebhook(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignatureMissing
	}
	want := webhookMAC(secret, ts, body)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return ErrSignatureExpired
	}
	return nil
}
