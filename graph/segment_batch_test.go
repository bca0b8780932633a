package graph_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestCustomerSegmentsBatched checks that Customer.segments costs the same SQL statements for a
// list of 2 customers as for 20 (no query per customer), and answers each customer's open
// memberships, by name, in lists and for a single customer.
func TestCustomerSegmentsBatched(t *testing.T) {
	t.Parallel()
	const list = `{ customers(first: 50) { edges { node { id segments { id name } } } } }`
	type listed struct {
		Customers struct {
			Edges []struct {
				Node struct {
					ID       uuid.UUID
					Segments []struct {
						ID   uuid.UUID
						Name string
					}
				}
			}
		}
	}

	run := func(t *testing.T, customers int) int {
		ctx := context.Background()
		db := testdb.New(t)
		plain := txn.NewClient(db)
		var segs []*ent.Segment
		for _, name := range []string{"gamma", "alpha", "beta"} {
			s, err := plain.Segment.Create().SetName(name).
				SetRule(map[string]any{"trait": map[string]any{"key": "plan", "op": "EXISTS"}}).Save(ctx)
			require.NoError(t, err)
			segs = append(segs, s)
		}
		// Customer i is a member of the segments whose index bit is set in i; everyone also has
		// an exited stay in gamma, which must not show.
		want := map[uuid.UUID][]string{}
		for i := range customers {
			c, err := plain.Customer.Create().SetEmail(fmt.Sprintf("c%d@example.com", i)).Save(ctx)
			require.NoError(t, err)
			_, err = plain.SegmentMembership.Create().SetSegmentID(segs[0].ID).SetCustomerID(c.ID).
				SetEnteredAt(time.Now().Add(-time.Hour)).SetExitedAt(time.Now()).Save(ctx)
			require.NoError(t, err)
			want[c.ID] = []string{}
			for _, k := range []int{1, 2, 0} { // alpha, beta, gamma: name order
				if i&(1<<k) != 0 {
					_, err = plain.SegmentMembership.Create().SetSegmentID(segs[k].ID).SetCustomerID(c.ID).
						SetEnteredAt(time.Now()).Save(ctx)
					require.NoError(t, err)
					want[c.ID] = append(want[c.ID], segs[k].Name)
				}
			}
		}

		var n atomic.Int64
		counting := ent.NewClient(ent.Driver(dialect.DebugWithContext(
			entsql.OpenDB(dialect.Postgres, db), func(context.Context, ...any) { n.Add(1) })))
		srv, keys := newServer(t, db, counting)
		key, err := keys.Create(ctx, "read", []auth.Scope{auth.ScopeRead})
		require.NoError(t, err)

		n.Store(0)
		var got listed
		require.Empty(t, postGraphQL(t, srv, key.Secret, list, nil, &got))
		statements := int(n.Load())
		require.Len(t, got.Customers.Edges, customers)
		for _, e := range got.Customers.Edges {
			names := []string{}
			for _, s := range e.Node.Segments {
				names = append(names, s.Name)
			}
			require.Equal(t, want[e.Node.ID], names, "customer %s", e.Node.ID)
		}

		// A single customer outside a list.
		one := got.Customers.Edges[len(got.Customers.Edges)-1].Node.ID
		var single struct {
			Customer struct{ Segments []struct{ Name string } }
		}
		require.Empty(t, postGraphQL(t, srv, key.Secret, `query($id: ID!) { customer(id: $id) { segments { name } } }`,
			map[string]any{"id": one}, &single))
		names := []string{}
		for _, s := range single.Customer.Segments {
			names = append(names, s.Name)
		}
		require.Equal(t, want[one], names)
		return statements
	}

	few := run(t, 2)
	many := run(t, 20)
	t.Logf("SQL statements: %d for 2 customers, %d for 20", few, many)
	require.Equal(t, few, many, "SQL statements must not grow with the number of customers")
}
