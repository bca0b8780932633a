package graph

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent/apikey"
	"github.com/cairn-cdp/cairn/ent/auditevent"
	"github.com/cairn-cdp/cairn/ent/campaign"
	"github.com/cairn-cdp/cairn/ent/campaignsync"
	"github.com/cairn-cdp/cairn/ent/consent"
	"github.com/cairn-cdp/cairn/ent/customer"
	"github.com/cairn-cdp/cairn/ent/destination"
	"github.com/cairn-cdp/cairn/ent/identity"
	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/ent/retentionpolicy"
	"github.com/cairn-cdp/cairn/ent/segment"
	"github.com/cairn-cdp/cairn/ent/segmentmembership"
	"github.com/cairn-cdp/cairn/internal/auth"
)

// nodeTables are the tables a Relay node id may live in. UUIDv7 ids are unique across tables,
// so one UNION ALL probe of the primary keys finds the type.
var nodeTables = []string{
	customer.Table, identity.Table, interaction.Table, consent.Table, segment.Table,
	segmentmembership.Table, destination.Table, campaign.Table, campaignsync.Table,
	retentionpolicy.Table, privacyrequest.Table, apikey.Table, auditevent.Table,
}

// nodeScopes are the scopes needed to read a node of a table beyond "read".
var nodeScopes = map[string]auth.Scope{
	apikey.Table:         auth.ScopeAdmin,
	auditevent.Table:     auth.ScopeAdmin,
	privacyrequest.Table: auth.ScopePrivacy,
	// Retention policies are read with the privacy scope, as retentionPolicies is.
	retentionpolicy.Table: auth.ScopePrivacy,
}

var nodeTypeQuery = func() string {
	parts := make([]string, len(nodeTables))
	for i, t := range nodeTables {
		// Table names are compile-time constants, not user input.
		parts[i] = fmt.Sprintf("SELECT '%s' FROM %q WHERE id = $1", t, t)
	}
	return strings.Join(parts, " UNION ALL ") + " LIMIT 1"
}()

// nodeType finds the table of id and checks the caller may read it.
func (r *Resolver) nodeType(ctx context.Context, id uuid.UUID) (string, error) {
	var table string
	err := r.DB.QueryRowContext(ctx, nodeTypeQuery, id).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: node %s", errNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("error resolving node type: %w", err)
	}
	if s, ok := nodeScopes[table]; ok && !auth.FromContext(ctx).Has(s) {
		return "", forbidden(s)
	}
	return table, nil
}
