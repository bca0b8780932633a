package graph_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestBadIDsAreUserErrors: an ID that is not a UUID, or a reference to a segment that does not
// exist, is BAD_USER_INPUT naming the argument, never INTERNAL; NOT_FOUND and CONFLICT messages
// speak of the API's objects, not ent's or PostgreSQL's.
func TestBadIDsAreUserErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	client := txn.NewClient(db)
	var logs bytes.Buffer
	srv, keys := newServerLog(t, db, client, slog.New(slog.NewTextHandler(&logs, nil)))
	key, err := keys.Create(ctx, "ids", []auth.Scope{auth.ScopeRead, auth.ScopeWrite})
	require.NoError(t, err)

	_, err = client.Segment.Create().SetName("taken").SetRule(map[string]any{"trait": map[string]any{"key": "plan", "op": "EXISTS"}}).Save(ctx)
	require.NoError(t, err)

	tests := []struct {
		name    string
		query   string
		vars    map[string]any
		code    string
		mention string // the message names this
	}{
		{"customer literal", `{ customer(id: "nope") { id } }`, nil, "BAD_USER_INPUT", `argument "id"`},
		{"customer variable", `query($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": "123"}, "BAD_USER_INPUT", `argument "id"`},
		{"node", `{ node(id: "x-y") { id } }`, nil, "BAD_USER_INPUT", `argument "id"`},
		{"nodes", `{ nodes(ids: ["7"]) { id } }`, nil, "BAD_USER_INPUT", `argument "ids[0]" of nodes`},
		{"job", `{ job(id: "job-1") { id } }`, nil, "BAD_USER_INPUT", `argument "id"`},
		{"segment", `{ segment(id: "1") { id } }`, nil, "BAD_USER_INPUT", `argument "id"`},
		{"computeSegment", `mutation { computeSegment(id: "abc") { id } }`, nil, "BAD_USER_INPUT", `argument "id"`},
		{"deleteSegment", `mutation { deleteSegment(id: "abc") }`, nil, "BAD_USER_INPUT", `argument "id"`},
		{"inSegment not a UUID", `{ segmentPreview(rule: {inSegment: "abc"}) { count } }`, nil, "BAD_USER_INPUT", `argument "rule.inSegment" of segmentPreview`},
		{"inSegment missing", `{ segmentPreview(rule: {and: [{inSegment: "0193a0c0-0000-7000-8000-000000000001"}]}) { count } }`, nil, "BAD_USER_INPUT", "rule.and[0].inSegment: segment 0193a0c0-0000-7000-8000-000000000001 does not exist"},
		{"createSegment with a taken name", `mutation { createSegment(input: {name: "taken", rule: {trait: {key: "plan", op: EXISTS}}}) { id } }`, nil, "CONFLICT", "already exists (unique constraint segments_name_key)"},
		{"computeSegment missing", `mutation { computeSegment(id: "0193a0c0-0000-7000-8000-000000000001") { id } }`, nil, "NOT_FOUND", "segment not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := postGraphQL(t, srv, key.Secret, tc.query, tc.vars, nil)
			require.Len(t, errs, 1)
			require.Equal(t, tc.code, errs[0].Extensions.Code, errs[0].Message)
			require.Contains(t, errs[0].Message, tc.mention)
			require.NotRegexp(t, `\b(ent|pq): `, errs[0].Message)
		})
	}
	require.NotContains(t, logs.String(), "level=ERROR")
}
