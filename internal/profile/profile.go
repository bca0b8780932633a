// Package profile reads unified customer profiles: by id (following merges to the surviving
// profile) and by identifier.
package profile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/identity"
)

// ErrNotFound means no customer matches.
var ErrNotFound = errors.New("customer not found")

// maxMergeHops bounds the walk along merged_into; merges always point at an older, live profile,
// so chains are short, and a cycle (which would be a bug) cannot loop forever.
const maxMergeHops = 16

// Get returns the live customer for id, following merged_into from a merged-away profile.
func Get(ctx context.Context, client *ent.Client, id uuid.UUID) (*ent.Customer, error) {
	for range maxMergeHops {
		c, err := client.Customer.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return nil, fmt.Errorf("error loading customer %s: %w", id, err)
		}
		if c.MergedIntoID == nil {
			return c, nil
		}
		id = *c.MergedIntoID
	}
	return nil, fmt.Errorf("error loading customer %s: merge chain longer than %d", id, maxMergeHops)
}

// Normalizer normalises an identifier value of a type (e.g. lower-cases emails), so lookups
// match what ingestion stored.
type Normalizer func(typ, value string) (string, error)

// DefaultNormalize trims values and lower-cases emails.
func DefaultNormalize(typ, value string) (string, error) {
	value = strings.TrimSpace(value)
	if typ == "email" {
		value = strings.ToLower(value)
	}
	if value == "" {
		return "", fmt.Errorf("identifier value must not be empty")
	}
	return value, nil
}

// ByIdentity returns the live customer holding the identifier (typ, value).
func ByIdentity(ctx context.Context, client *ent.Client, norm Normalizer, typ, value string) (*ent.Customer, error) {
	if norm == nil {
		norm = DefaultNormalize
	}
	v, err := norm(typ, value)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, err.Error())
	}
	idn, err := client.Identity.Query().Where(identity.Type(typ), identity.Value(v)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error looking up identity: %w", err)
	}
	return Get(ctx, client, idn.CustomerID)
}
