package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestSegmentMembersPages walks a segment's members page by page, forward and backward, and
// counts the SQL statements of each page: the segment, the page, and a COUNT only when
// totalCount is selected, whatever the segment's size.
func TestSegmentMembersPages(t *testing.T) {
	t.Parallel()
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

	seg, err := plain.Segment.Create().SetName("members").
		SetRule(map[string]any{"trait": map[string]any{"key": "plan", "op": "EXISTS"}}).Save(ctx)
	require.NoError(t, err)
	other, err := plain.Segment.Create().SetName("other").
		SetRule(map[string]any{"trait": map[string]any{"key": "plan", "op": "EXISTS"}}).Save(ctx)
	require.NoError(t, err)
	// Customers 0..9: even ones are current members; every third has an exited stay; all are
	// in the other segment, which must not show.
	var members []uuid.UUID
	for i := range 10 {
		c, err := plain.Customer.Create().SetEmail(fmt.Sprintf("m%d@example.com", i)).Save(ctx)
		require.NoError(t, err)
		_, err = plain.SegmentMembership.Create().SetSegmentID(other.ID).SetCustomerID(c.ID).SetEnteredAt(time.Now()).Save(ctx)
		require.NoError(t, err)
		if i%3 == 0 {
			_, err = plain.SegmentMembership.Create().SetSegmentID(seg.ID).SetCustomerID(c.ID).
				SetEnteredAt(time.Now().Add(-time.Hour)).SetExitedAt(time.Now().Add(-time.Minute)).Save(ctx)
			require.NoError(t, err)
		}
		if i%2 == 0 {
			_, err = plain.SegmentMembership.Create().SetSegmentID(seg.ID).SetCustomerID(c.ID).SetEnteredAt(time.Now()).Save(ctx)
			require.NoError(t, err)
			members = append(members, c.ID)
		}
	}
	slices.SortFunc(members, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })

	type page struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Edges []struct{ Node struct{ ID uuid.UUID } }
	}
	read := func(t *testing.T, args string, vars map[string]any, total bool) (page, int64) {
		t.Helper()
		sel := "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { id } }"
		if total {
			sel = "totalCount " + sel
		}
		vars["id"] = seg.ID
		n.Store(0)
		_, resp := b.do(t, secret, `query($id: ID!, $after: Cursor, $before: Cursor) { segment(id: $id) { members(after: $after, before: $before, `+args+`) { `+sel+` } } }`, vars)
		require.Empty(t, resp.Errors)
		var got struct{ Members page }
		require.NoError(t, json.Unmarshal(resp.Data["segment"], &got))
		return got.Members, n.Load()
	}
	ids := func(p page) []uuid.UUID {
		out := []uuid.UUID{}
		for _, e := range p.Edges {
			out = append(out, e.Node.ID)
		}
		return out
	}

	t.Run("forward pages with totalCount", func(t *testing.T) {
		var seen []uuid.UUID
		vars := map[string]any{}
		for i := 0; ; i++ {
			p, statements := read(t, "first: 2", vars, true)
			require.Equal(t, int64(3), statements, "segment, page, count")
			require.Equal(t, len(members), p.TotalCount)
			require.Equal(t, i > 0, p.PageInfo.HasPreviousPage)
			seen = append(seen, ids(p)...)
			if !p.PageInfo.HasNextPage {
				break
			}
			vars = map[string]any{"after": *p.PageInfo.EndCursor}
		}
		require.Equal(t, members, seen)
	})
	t.Run("backward pages without totalCount", func(t *testing.T) {
		var seen []uuid.UUID
		vars := map[string]any{}
		for {
			p, statements := read(t, "last: 2", vars, false)
			require.Equal(t, int64(2), statements, "segment, page")
			seen = append(ids(p), seen...)
			if !p.PageInfo.HasPreviousPage {
				break
			}
			vars = map[string]any{"before": *p.PageInfo.StartCursor}
		}
		require.Equal(t, members, seen)
	})
	t.Run("totalCount without edges", func(t *testing.T) {
		p, _ := read(t, "first: 1", map[string]any{}, false)
		require.Len(t, p.Edges, 1)
		n.Store(0)
		_, resp := b.do(t, secret, `query($id: ID!) { segment(id: $id) { members(first: 1) { totalCount } } }`, map[string]any{"id": seg.ID})
		require.Empty(t, resp.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"members":{"totalCount":%d}}`, len(members)), string(resp.Data["segment"]))
	})
}
