package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/schematype"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/segment"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
	"github.com/cairn-cdp/cairn/jobs"
)

func TestSegmentsThroughGraphQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	client := txn.NewClient(db)
	srv, keys := newServer(t, db, client)
	key, err := keys.Create(ctx, "segments", []auth.Scope{auth.ScopeRead, auth.ScopeWrite})
	require.NoError(t, err)
	do := func(q string, vars map[string]any, out any) []gqlError {
		return postGraphQL(t, srv, key.Secret, q, vars, out)
	}

	pro, err := client.Customer.Create().SetTraits(schematype.MustObject(map[string]any{"plan": "Pro"})).Save(ctx)
	require.NoError(t, err)
	_, err = client.Customer.Create().SetTraits(schematype.MustObject(map[string]any{"plan": "free"})).Save(ctx)
	require.NoError(t, err)

	rule := map[string]any{"and": []any{
		map[string]any{"trait": map[string]any{"key": "plan", "op": "EQ", "value": "pro"}},
		map[string]any{"not": map[string]any{"event": map[string]any{"name": "Order Completed", "withinDays": 30}}},
	}}

	// Preview: count and a sample, without saving.
	var preview struct {
		SegmentPreview struct {
			Count  int
			Sample struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID uuid.UUID } }
			}
		}
	}
	require.Empty(t, do(`query($r: SegmentRuleInput!) { segmentPreview(rule: $r) { count sample(first: 5) { totalCount edges { node { id } } } } }`,
		map[string]any{"r": rule}, &preview))
	require.Equal(t, 1, preview.SegmentPreview.Count)
	require.Equal(t, 1, preview.SegmentPreview.Sample.TotalCount)
	require.Equal(t, pro.ID, preview.SegmentPreview.Sample.Edges[0].Node.ID)

	// An invalid rule names the bad node.
	errs := do(`query { segmentPreview(rule: {and: [{trait: {key: "a", op: GT, value: "x"}, consent: {purpose: "analytics", granted: true}}]}) { count } }`, nil, nil)
	require.Len(t, errs, 1)
	require.Equal(t, "BAD_USER_INPUT", errs[0].Extensions.Code)
	require.Contains(t, errs[0].Message, "rule.and[0]")

	// Create: stored, rendered, and its computation enqueued in the same transaction.
	var created struct {
		CreateSegment struct {
			ID       uuid.UUID
			Rule     map[string]any
			RuleText string
			Status   string
		}
	}
	require.Empty(t, do(`mutation($r: SegmentRuleInput!) { createSegment(input: {name: "Pro, never ordered", rule: $r}) { id rule ruleText status } }`,
		map[string]any{"r": rule}, &created))
	seg := created.CreateSegment
	require.Equal(t, "traits.plan = 'pro' AND did not perform 'Order Completed' in the last 30 days", seg.RuleText)
	require.Equal(t, "pending", seg.Status)
	raw, err := json.Marshal(seg.Rule)
	require.NoError(t, err)
	require.JSONEq(t, `{"and":[{"trait":{"key":"plan","op":"EQ","value":"pro"}},{"not":{"event":{"name":"Order Completed","withinDays":30}}}]}`, string(raw))
	rivertest.RequireInserted(ctx, t, riverdatabasesql.New(db), jobs.ComputeSegmentArgs{SegmentID: seg.ID}, nil)

	// computeSegment returns the (already queued) job.
	var computed struct{ ComputeSegment struct{ Kind, State string } }
	require.Empty(t, do(`mutation($id: ID!) { computeSegment(id: $id) { kind state } }`, map[string]any{"id": seg.ID}, &computed))
	require.Equal(t, "compute_segment", computed.ComputeSegment.Kind)

	// After the computation: members, history, Customer.segments.
	_, err = (&segment.Service{DB: db}).Compute(ctx, seg.ID)
	require.NoError(t, err)
	var got struct {
		Segment struct {
			MemberCount int
			Members     struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID uuid.UUID } }
			}
			History []struct{ Entered, Exited int }
		}
		Customer struct{ Segments []struct{ Name string } }
	}
	require.Empty(t, do(`query($id: ID!, $c: ID!) {
		segment(id: $id) { memberCount members(first: 10) { totalCount edges { node { id } } } history(days: 1) { entered exited } }
		customer(id: $c) { segments { name } } }`, map[string]any{"id": seg.ID, "c": pro.ID}, &got))
	require.Equal(t, 1, got.Segment.MemberCount)
	require.Equal(t, pro.ID, got.Segment.Members.Edges[0].Node.ID)
	require.Equal(t, []struct{ Entered, Exited int }{{1, 0}}, got.Segment.History)
	require.Equal(t, "Pro, never ordered", got.Customer.Segments[0].Name)
	for _, days := range []int{0, -1, 367} {
		t.Run(fmt.Sprintf("history days %d", days), func(t *testing.T) {
			errs := postGraphQL(t, srv, key.Secret, `query($id: ID!, $d: Int) { segment(id: $id) { history(days: $d) { entered } } }`, map[string]any{"id": seg.ID, "d": days}, nil)
			require.Len(t, errs, 1)
			require.Equal(t, "BAD_USER_INPUT", errs[0].Extensions.Code)
			require.Contains(t, errs[0].Message, "between 1 and 366")
		})
	}

	// Update with a cycle is refused with the path; delete works.
	errs = do(`mutation($id: ID!) { updateSegment(id: $id, input: {rule: {or: [{inSegment: $id}]}}) { id } }`, map[string]any{"id": seg.ID}, nil)
	require.Len(t, errs, 1)
	require.Equal(t, "BAD_USER_INPUT", errs[0].Extensions.Code)
	require.Contains(t, errs[0].Message, "rule.or[0].inSegment")
	var deleted struct{ DeleteSegment uuid.UUID }
	require.Empty(t, do(`mutation($id: ID!) { deleteSegment(id: $id) }`, map[string]any{"id": seg.ID}, &deleted))
	require.Equal(t, seg.ID, deleted.DeleteSegment)
	errs = do(`mutation($id: ID!) { computeSegment(id: $id) { id } }`, map[string]any{"id": seg.ID}, nil)
	require.Equal(t, "NOT_FOUND", errs[0].Extensions.Code)
}
