// Package provider talks to email providers (Mailchimp, SendGrid, a signed webhook).
package provider
import "context"
type Contact struct {
    Email  string            // normalised: trimmed, lower-case
    Fields map[string]string // merge fields, already final
}
type ContactError struct{ Email, Code, Field, Message string }
func (e *ContactError) Error() string { return e.Email + ": " + e.Code + " " + e.Message }
type Result struct{ Failed []ContactError } // contacts absent from Failed were confirmed
type Destination interface {
    Test(ctx context.Context) error
    Upsert(ctx context.Context, cs []Contact) (Result, error)
    Remove(ctx context.Context, emails []string) (Result, error)
    Erase(ctx context.Context, emails []string) (Result, error)
}
