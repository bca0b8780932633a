package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestConnectionsHaveDefaultPage: a connection asked for without first/last (or with null)
// returns at most the default page of 50, at the root and nested; more than 1000 is refused.
func TestConnectionsHaveDefaultPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := txn.NewClient(b.db)
	read := b.key(t, auth.ScopeRead)

	const n = 60
	customers := make([]*ent.CustomerCreate, n)
	for i := range customers {
		customers[i] = client.Customer.Create().SetEmail(fmt.Sprintf("p%d@example.com", i))
	}
	created, err := client.Customer.CreateBulk(customers...).Save(ctx)
	require.NoError(t, err)
	events := make([]*ent.InteractionCreate, n)
	for i := range events {
		events[i] = client.Interaction.Create().SetKind(interaction.KindTrack).SetEvent("Viewed").
			SetMessageID(fmt.Sprintf("page-%d", i)).SetOccurredAt(time.Now()).SetCustomerID(created[0].ID)
	}
	require.NoError(t, client.Interaction.CreateBulk(events...).Exec(ctx))

	type conn struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				Interactions *conn
			}
		}
	}
	tests := []struct {
		name   string
		query  string
		vars   map[string]any
		field  string
		edges  int
		nested int // edges of the first customer's interactions; -1 when not asked
	}{
		{"no first", `{ customers { totalCount edges { node { id } } } }`, nil, "customers", 50, -1},
		{"null first", `query($f: Int) { customers(first: $f) { totalCount edges { node { id } } } }`, map[string]any{"f": nil}, "customers", 50, -1},
		{"explicit first kept", `{ customers(first: 55) { totalCount edges { node { id } } } }`, nil, "customers", 55, -1},
		{"last kept", `{ customers(last: 3) { totalCount edges { node { id } } } }`, nil, "customers", 3, -1},
		{"nested without first", `query($id: ID!) { c: customers(first: 1, where: {id: $id}) { totalCount edges { node { interactions { totalCount edges { node { id } } } } } } }`,
			map[string]any{"id": created[0].ID}, "c", 1, 50},
		{"in a fragment", `{ customers { ...page } } fragment page on CustomerConnection { totalCount edges { node { id } } }`, nil, "customers", 50, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := b.do(t, read, tc.query, tc.vars)
			require.Empty(t, resp.Errors)
			var got conn
			require.NoError(t, json.Unmarshal(resp.Data[tc.field], &got))
			require.Len(t, got.Edges, tc.edges)
			if tc.nested < 0 {
				require.Equal(t, n, got.TotalCount)
				return
			}
			require.NotNil(t, got.Edges[0].Node.Interactions)
			require.Equal(t, n, got.Edges[0].Node.Interactions.TotalCount)
			require.Len(t, got.Edges[0].Node.Interactions.Edges, tc.nested)
		})
	}

	t.Run("more than the maximum is refused", func(t *testing.T) {
		_, resp := b.do(t, read, `{ customers(first: 1001) { edges { node { id } } } }`, nil)
		require.Equal(t, []string{"BAD_USER_INPUT"}, resp.codes())
		require.Contains(t, resp.Errors[0].Message, "at most 1000")
	})
}
