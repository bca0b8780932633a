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

// TestProfilesCostBoundedQueries checks that listing customers with their identities, consents
// and interactions runs the same number of SQL statements for 2 customers as for 20: no N+1.
func TestProfilesCostBoundedQueries(t *testing.T) {
	t.Parallel()
	const query = `{ customers(first: 50) { edges { node {
		id email traits identities { type value } consents { purpose granted }
		interactions(first: 10) { totalCount edges { node { event occurredAt } } }
	} } } }`

	statements := func(t *testing.T, customers int) int {
		db := testdb.New(t)
		ctx := context.Background()
		plain := txn.NewClient(db)
		for i := range customers {
			c, err := plain.Customer.Create().SetEmail(fmt.Sprintf("c%d@example.com", i)).Save(ctx)
			require.NoError(t, err)
			for j := range 3 {
				_, err = plain.Identity.Create().SetType("anonymous_id").SetValue(fmt.Sprintf("a-%d-%d", i, j)).SetCustomerID(c.ID).Save(ctx)
				require.NoError(t, err)
				_, err = plain.Interaction.Create().SetKind(interaction.KindTrack).SetEvent("Viewed").
					SetMessageID(fmt.Sprintf("m-%d-%d", i, j)).SetOccurredAt(time.Now()).SetCustomerID(c.ID).Save(ctx)
				require.NoError(t, err)
			}
			_, err = plain.Consent.Create().SetCustomerID(c.ID).SetPurpose("analytics").SetGranted(true).Save(ctx)
			require.NoError(t, err)
		}

		var n atomic.Int64
		counting := ent.NewClient(ent.Driver(dialect.DebugWithContext(
			entsql.OpenDB(dialect.Postgres, db), func(context.Context, ...any) { n.Add(1) })))
		log := slog.New(slog.DiscardHandler)
		keys := auth.NewKeys(db, log)
		srv := server.New(server.Config{DB: db, Keys: keys, Log: log,
			Resolver: &graph.Resolver{DB: db, Client: counting, Keys: keys, Log: log}})
		b := &testBundle{db: db, keys: keys, srv: srv}
		secret := b.key(t, auth.ScopeRead)

		n.Store(0)
		_, resp := b.do(t, secret, query, nil)
		require.Empty(t, resp.Errors)
		require.Contains(t, string(resp.Data["customers"]), fmt.Sprintf("c%d@example.com", customers-1))
		return int(n.Load())
	}

	few := statements(t, 2)
	many := statements(t, 20)
	t.Logf("SQL statements: %d for 2 customers, %d for 20", few, many)
	require.Equal(t, few, many, "SQL statements must not grow with the number of customers")
	require.LessOrEqual(t, many, 8)
}
