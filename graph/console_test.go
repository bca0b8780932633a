package graph_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/schematype"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func TestConsoleQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	client := txn.NewClient(db)
	srv, keys := newServer(t, db, client)
	key, err := keys.Create(ctx, "console", []auth.Scope{auth.ScopeRead})
	require.NoError(t, err)

	now := time.Now()
	pro, err := client.Customer.Create().SetTraits(schematype.MustObject(map[string]any{"plan": "pro"})).Save(ctx)
	require.NoError(t, err)
	merged, err := client.Customer.Create().SetMergedIntoID(pro.ID).SetMergedAt(now).Save(ctx)
	require.NoError(t, err)
	for i, name := range []string{"Signed Up", "Order Completed"} {
		_, err := client.Interaction.Create().SetKind(interaction.KindTrack).SetEvent(name).SetMessageID(uuid.NewString()).
			SetOccurredAt(now).SetReceivedAt(now.Add(time.Duration(i) * time.Second)).SetCustomerID(pro.ID).Save(ctx)
		require.NoError(t, err)
	}
	rule := map[string]any{"and": []any{
		map[string]any{"trait": map[string]any{"key": "plan", "op": "EQ", "value": "pro"}},
		map[string]any{"event": map[string]any{"name": "Order Completed", "count": map[string]any{"op": "GTE", "value": 2}}},
	}}

	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  string
		code  string
	}{
		{"viewer", `{ viewer { name scopes } }`, nil, `{"viewer":{"name":"console","scopes":["read"]}}`, ""},
		{"suggestions", `{ traitKeys(prefix: "p") eventNames }`, nil, `{"traitKeys":["plan"],"eventNames":["Order Completed","Signed Up"]}`, ""},
		{"too many suggestions", `{ eventNames(first: 1000) }`, nil, ``, "BAD_USER_INPUT"},
		{"interactions newest first, filtered, with their profile",
			`{ interactions(first: 5, where: {kind: track}) { edges { node { event customer { id } } } } }`, nil,
			`{"interactions":{"edges":[{"node":{"event":"Order Completed","customer":{"id":"` + pro.ID.String() + `"}}},{"node":{"event":"Signed Up","customer":{"id":"` + pro.ID.String() + `"}}}]}}`, ""},
		{"explain a rule for a merged-away id follows it",
			`query($rule: SegmentRuleInput, $c: ID!) { segmentExplain(rule: $rule, customerId: $c) { customer { id } matches nodes { path parentPath kind matched observed } } }`,
			map[string]any{"rule": rule, "c": merged.ID},
			`{"segmentExplain":{"customer":{"id":"` + pro.ID.String() + `"},"matches":false,"nodes":[
				{"path":"rule","parentPath":null,"kind":"and","matched":false,"observed":null},
				{"path":"rule.and[0]","parentPath":"rule","kind":"trait","matched":true,"observed":"traits.plan is 'pro'"},
				{"path":"rule.and[1]","parentPath":"rule","kind":"event","matched":false,"observed":"1 matching event, latest ` + now.UTC().Format("2006-01-02 15:04") + `"}]}}`, ""},
		{"explain needs exactly one of segmentId and rule",
			`query($c: ID!) { segmentExplain(customerId: $c) { matches } }`, map[string]any{"c": pro.ID}, ``, "BAD_USER_INPUT"},
		{"explain of an unknown customer", `query($rule: SegmentRuleInput) { segmentExplain(rule: $rule, customerId: "0194a0a0-0000-7000-8000-000000000000") { matches } }`,
			map[string]any{"rule": rule}, ``, "NOT_FOUND"},
		{"explain of an unknown segment", `{ segmentExplain(segmentId: "0194a0a0-0000-7000-8000-000000000000", customerId: "0194a0a0-0000-7000-8000-000000000000") { matches } }`,
			nil, ``, "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out json.RawMessage
			errs := postGraphQL(t, srv, key.Secret, tc.query, tc.vars, &out)
			if tc.code != "" {
				require.Len(t, errs, 1)
				require.Equal(t, tc.code, errs[0].Extensions.Code, errs[0].Message)
				return
			}
			require.Empty(t, errs)
			require.JSONEq(t, tc.want, string(out))
		})
	}
}
