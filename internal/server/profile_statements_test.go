package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestProfileReadCostsOneStatement counts the SQL statements of a profile read (a customer with
// its identities and 20 newest interactions with their count): one, whatever the profile holds.
// The API key is read from the database once, then trusted for auth.KeyCacheTTL.
func TestProfileReadCostsOneStatement(t *testing.T) {
	t.Parallel()
	const query = `query($id: ID!) { customer(id: $id) {
		id email traits lastSeenAt identities { type value }
		interactions(first: 20, orderBy: {field: OCCURRED_AT, direction: DESC}) {
			totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id event occurredAt properties } }
		}
	} }`
	db := testdb.New(t)
	ctx := context.Background()
	plain := txn.NewClient(db)
	var n atomic.Int64
	counting := ent.NewClient(ent.Driver(dialect.DebugWithContext(
		entsql.OpenDB(dialect.Postgres, db), func(context.Context, ...any) { n.Add(1) })))
	log := slog.New(slog.DiscardHandler)
	keys := auth.NewKeys(db, log)
	srv := server.New(server.Config{DB: db, Keys: keys, Log: log,
		Resolver: &graph.Resolver{DB: db, Client: counting, Keys: keys, Log: log}})
	b := &testBundle{db: db, keys: keys, srv: srv}
	secret := b.key(t, auth.ScopeRead)

	tests := []struct {
		name         string
		interactions int
		merged       bool
		statements   int64
	}{
		{name: "empty profile", statements: 1},
		{name: "25 interactions", interactions: 25, statements: 1},
		{name: "merged-away id: one more per merge hop", interactions: 3, merged: true, statements: 2},
	}
	for i, tc := range tests {
		c, err := plain.Customer.Create().SetEmail(fmt.Sprintf("p%d@example.com", i)).Save(ctx)
		require.NoError(t, err)
		_, err = plain.Identity.Create().SetType("email").SetValue(fmt.Sprintf("p%d@example.com", i)).SetCustomerID(c.ID).Save(ctx)
		require.NoError(t, err)
		for j := range tc.interactions {
			_, err = plain.Interaction.Create().SetKind(interaction.KindTrack).SetEvent("Viewed").
				SetMessageID(fmt.Sprintf("m-%d-%d", i, j)).SetOccurredAt(time.Now().Add(-time.Duration(j) * time.Minute)).
				SetCustomerID(c.ID).Save(ctx)
			require.NoError(t, err)
		}
		asked := c.ID
		if tc.merged {
			gone, err := plain.Customer.Create().SetMergedIntoID(c.ID).SetMergedAt(time.Now()).Save(ctx)
			require.NoError(t, err)
			asked = gone.ID
		}
		t.Run(tc.name, func(t *testing.T) {
			n.Store(0)
			_, resp := b.do(t, secret, query, map[string]any{"id": asked})
			require.Empty(t, resp.Errors)
			require.Contains(t, string(resp.Data["customer"]), fmt.Sprintf(`"totalCount":%d`, tc.interactions))
			require.Contains(t, string(resp.Data["customer"]), c.ID.String())
			require.Equal(t, tc.statements, n.Load())
		})
	}
}
