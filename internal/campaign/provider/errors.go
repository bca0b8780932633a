package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/cairn-cdp/cairn/internal/textcut"
)

// ConfigError is a destination setting that cannot work; fix the configuration, do not retry.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("destination %s %s", e.Field, e.Reason) }

// APIError is a provider's answer that ended a call: a 4xx other than 429 at once, or a 429/5xx
// after the retries ran out. Detail is the provider's message with email addresses redacted.
type APIError struct {
	Provider string // mailchimp, sendgrid, webhook
	Op       string // what was being done, e.g. "upsert members"
	Status   int
	Title    string
	Detail   string
	// RetryAfter is the wait the provider asked for (429/503), when it asked.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Provider, e.Op, e.Status)
	if e.Title != "" {
		msg += " " + e.Title
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Temporary reports whether a later attempt may succeed (rate limits and server errors).
func (e *APIError) Temporary() bool { return e.Status == 429 || e.Status >= 500 }

// BlockedAddressError is a destination URL that resolved to an address Cairn refuses to call
// (loopback, private, link-local…) while Options.AllowPrivate is off.
type BlockedAddressError struct {
	Addr string // the IP that was refused
}

func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("destination address %s is loopback, private or link-local; refused (set the allow-private-destinations setting to permit it)", e.Addr)
}

// IsTemporary reports whether err may go away on a later attempt: network failures, rate
// limits, server errors, timeouts and cancellation. Config errors, refused addresses and 4xx
// answers are permanent until someone changes the destination.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var ce *ConfigError
	var be *BlockedAddressError
	if errors.As(err, &ce) || errors.As(err, &be) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, errTransport)
}

// errTransport marks a failed round trip (no answer received).
var errTransport = errors.New("request failed")

var emailPattern = regexp.MustCompile(`[^\s"'<>(),;:\[\]]+@[^\s"'<>(),;:\[\]]+`)

// redact replaces anything shaped like an email address, so provider messages can be logged.
func redact(s string) string {
	if len(s) > 500 {
		s = textcut.Prefix(s, 500) + "…"
	}
	return emailPattern.ReplaceAllString(s, "<email>")
}
