package segment_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/customer"
	"github.com/cairn-cdp/cairn/ent/segmentmembership"
	"github.com/cairn-cdp/cairn/internal/segment"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestMembersPagesLikeAMembershipCondition pages through a segment's members with Members'
// keyset narrowing and with a plain membership condition, for every combination of cursors
// and page sizes: ent's Paginate must return the same page either way.
func TestMembersPagesLikeAMembershipCondition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := txn.NewClient(testdb.New(t))
	rule := map[string]any{"trait": map[string]any{"key": "plan", "op": "EXISTS"}}
	seg, err := client.Segment.Create().SetName("s").SetRule(rule).Save(ctx)
	require.NoError(t, err)
	other, err := client.Segment.Create().SetName("o").SetRule(rule).Save(ctx)
	require.NoError(t, err)
	var all []uuid.UUID
	for i := range 12 {
		c, err := client.Customer.Create().SetEmail(fmt.Sprintf("k%d@example.com", i)).Save(ctx)
		require.NoError(t, err)
		all = append(all, c.ID)
		_, err = client.SegmentMembership.Create().SetSegmentID(other.ID).SetCustomerID(c.ID).SetEnteredAt(time.Now()).Save(ctx)
		require.NoError(t, err)
		if i%4 == 1 { // an exited stay only
			_, err = client.SegmentMembership.Create().SetSegmentID(seg.ID).SetCustomerID(c.ID).
				SetEnteredAt(time.Now().Add(-time.Hour)).SetExitedAt(time.Now()).Save(ctx)
			require.NoError(t, err)
			continue
		}
		_, err = client.SegmentMembership.Create().SetSegmentID(seg.ID).SetCustomerID(c.ID).SetEnteredAt(time.Now()).Save(ctx)
		require.NoError(t, err)
	}

	page := func(q *ent.CustomerQuery, after, before *entgql.Cursor[uuid.UUID], first, last *int) []uuid.UUID {
		conn, err := q.Paginate(ctx, after, first, before, last)
		require.NoError(t, err)
		ids := []uuid.UUID{}
		for _, e := range conn.Edges {
			ids = append(ids, e.Node.ID)
		}
		return ids
	}
	cursors := []*entgql.Cursor[uuid.UUID]{nil, {ID: all[0]}, {ID: all[1]}, {ID: all[5]}, {ID: all[11]}}
	sizes := []*int{nil, ptr(0), ptr(1), ptr(3), ptr(20)}
	for ai, after := range cursors {
		for bi, before := range cursors {
			for _, size := range sizes {
				for _, backward := range []bool{false, true} {
					first, last := size, (*int)(nil)
					if backward {
						first, last = nil, size
					}
					keys := segment.MemberKeys{Desc: last != nil}
					for _, c := range []*entgql.Cursor[uuid.UUID]{after, before} {
						if c != nil {
							keys.Past = append(keys.Past, c.ID)
						}
					}
					if size != nil {
						keys.Limit = *size + 1
					}
					name := fmt.Sprintf("after %d before %d size %v backward %v", ai, bi, size, backward)
					t.Run(name, func(t *testing.T) {
						want := page(client.Customer.Query().Where(customer.HasMembershipsWith(
							segmentmembership.SegmentID(seg.ID), segmentmembership.ExitedAtIsNil())), after, before, first, last)
						got := page(client.Customer.Query().Where(segment.Members(seg.ID, keys)), after, before, first, last)
						require.Equal(t, want, got)
					})
				}
			}
		}
	}
}

func ptr(n int) *int { return &n }
