// Package auth manages API keys and the scopes they grant: creating keys (the secret is shown
// once, only its SHA-256 is stored), authenticating a presented secret in constant time,
// revoking keys, and carrying the caller's Principal through a request's context.
package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Scope is a permission an API key grants.
type Scope string

// The scopes of DESIGN.md.
const (
	ScopeIngest  Scope = "ingest"  // tracking API only
	ScopeRead    Scope = "read"    // queries
	ScopeWrite   Scope = "write"   // changes: segments, RFM runs, merges
	ScopePrivacy Scope = "privacy" // privacy requests, retention policies
	ScopeAdmin   Scope = "admin"   // everything, keys
)

// AllScopes lists every scope, in a stable order.
var AllScopes = []Scope{ScopeIngest, ScopeRead, ScopeWrite, ScopePrivacy, ScopeAdmin}

// ParseScopes parses a comma-separated or listed set of scope names, rejecting unknown ones.
func ParseScopes(names ...string) ([]Scope, error) {
	var out []Scope
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			part = strings.TrimSpace(strings.ToLower(part))
			if part == "" {
				continue
			}
			s := Scope(part)
			if !slices.Contains(AllScopes, s) {
				return nil, fmt.Errorf("%w: unknown scope %q (known: ingest, read, write, privacy, admin)", ErrInvalidInput, part)
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: at least one scope is required", ErrInvalidInput)
	}
	return out, nil
}

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID  uuid.UUID
	Name   string
	Scopes []Scope
}

// Has reports whether the principal holds scope s; admin holds every scope.
func (p *Principal) Has(s Scope) bool {
	if p == nil {
		return false
	}
	return slices.Contains(p.Scopes, s) || slices.Contains(p.Scopes, ScopeAdmin)
}

// Actor names the principal in audit events.
func (p *Principal) Actor() string {
	if p == nil {
		return "system"
	}
	if p.KeyID == uuid.Nil {
		return p.Name // "cli" and other keyless operators
	}
	return "key:" + p.KeyID.String()
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Actor names whoever acts in ctx for audit events: the key, or "system" outside a request.
func Actor(ctx context.Context) string { return FromContext(ctx).Actor() }
