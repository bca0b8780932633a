package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/schematype"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func TestCustomerLookups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := txn.NewClient(b.db)
	read := b.key(t, auth.ScopeRead)

	survivor, err := client.Customer.Create().SetEmail("ada@example.com").SetTraits(schematype.MustObject(map[string]any{"plan": "pro"})).Save(ctx)
	require.NoError(t, err)
	merged, err := client.Customer.Create().SetMergedIntoID(survivor.ID).SetMergedAt(time.Now()).Save(ctx)
	require.NoError(t, err)
	_, err = client.Identity.Create().SetType("email").SetValue("ada@example.com").SetCustomerID(survivor.ID).Save(ctx)
	require.NoError(t, err)
	_, err = client.Identity.Create().SetType("anonymous_id").SetValue("anon-1").SetCustomerID(merged.ID).Save(ctx)
	require.NoError(t, err)

	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  string
	}{
		{"by id", `query($id: ID!) { customer(id: $id) { id traits } }`, map[string]any{"id": survivor.ID},
			`{"customer":{"id":"` + survivor.ID.String() + `","traits":{"plan":"pro"}}}`},
		{"merged id follows mergedInto", `query($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": merged.ID},
			`{"customer":{"id":"` + survivor.ID.String() + `"}}`},
		{"unknown id is null", `query { customer(id: "0194a0a0-0000-7000-8000-000000000000") { id } }`, nil,
			`{"customer":null}`},
		{"by email, normalised", `{ customerByIdentity(type: "email", value: "  ADA@example.com ") { id } }`, nil,
			`{"customerByIdentity":{"id":"` + survivor.ID.String() + `"}}`},
		{"by identity of a merged profile", `{ customerByIdentity(type: "anonymous_id", value: "anon-1") { id } }`, nil,
			`{"customerByIdentity":{"id":"` + survivor.ID.String() + `"}}`},
		{"customers lists live profiles only", `{ customers { totalCount edges { node { id identities { type value } mergedFrom { id } } } } }`, nil,
			`{"customers":{"totalCount":1,"edges":[{"node":{"id":"` + survivor.ID.String() + `","identities":[{"type":"email","value":"ada@example.com"}],"mergedFrom":[{"id":"` + merged.ID.String() + `"}]}}]}}`},
		{"node", `query($id: ID!) { node(id: $id) { __typename ... on Customer { email } } }`, map[string]any{"id": survivor.ID},
			`{"node":{"__typename":"Customer","email":"ada@example.com"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp := b.do(t, read, tt.query, tt.vars)
			require.Empty(t, resp.Errors)
			data, err := json.Marshal(resp.Data)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(data))
		})
	}
}

func TestNodeOfPrivilegedTypeNeedsItsScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	created, err := b.keys.Create(context.Background(), "target", []auth.Scope{auth.ScopeRead})
	require.NoError(t, err)
	q := `query($id: ID!) { node(id: $id) { id } }`
	vars := map[string]any{"id": created.Key.ID}

	_, resp := b.do(t, b.key(t, auth.ScopeRead), q, vars)
	require.Equal(t, []string{"FORBIDDEN"}, resp.codes())
	require.JSONEq(t, `{"node":null}`, mustJSON(t, resp.Data))

	_, resp = b.do(t, b.key(t, auth.ScopeAdmin), q, vars)
	require.Empty(t, resp.Errors)
}

func TestQueryLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	read := b.key(t, auth.ScopeRead)
	deep := `{ customers { edges { node { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { mergedInto { id } } } } } } } } } } } } } } } }`
	tests := []struct {
		name, query, wantMsg string
	}{
		{"too deep", deep, "nested too deeply"},
		{"page too large", `{ customers(first: 5000) { totalCount } }`, "at most 1000"},
		{"too expensive", `{ customers(first: 1000) { edges { node { interactions(first: 1000) { edges { node { id event } } } } } } }`, "too expensive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp := b.do(t, read, tt.query, nil)
			require.Equal(t, []string{"BAD_USER_INPUT"}, resp.codes())
			require.Contains(t, resp.Errors[0].Message, tt.wantMsg)
			require.Nil(t, resp.Data)
		})
	}
}

func TestJobLookup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc, err := river.NewClient(riverdatabasesql.New(b.db), &river.Config{})
	require.NoError(t, err)
	res, err := rc.Insert(context.Background(), probeArgs{}, nil)
	require.NoError(t, err)

	read := b.key(t, auth.ScopeRead)
	_, resp := b.do(t, read, `query($id: ID!) { job(id: $id) { id kind state attempt errors } }`,
		map[string]any{"id": graph.JobID(res.Job.ID)})
	require.Empty(t, resp.Errors)
	require.JSONEq(t, `{"job":{"id":"`+graph.JobID(res.Job.ID).String()+`","kind":"server_test_probe","state":"available","attempt":0,"errors":[]}}`, mustJSON(t, resp.Data))

	_, resp = b.do(t, read, `{ job(id: "0194a0a0-0000-7000-8000-000000000000") { id } }`, nil)
	require.Empty(t, resp.Errors)
	require.JSONEq(t, `{"job":null}`, mustJSON(t, resp.Data))
}

type probeArgs struct{}

func (probeArgs) Kind() string { return "server_test_probe" }

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`} {
		t.Run(path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			b.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			require.Equal(t, http.StatusOK, rec.Code, path)
			require.Contains(t, rec.Body.String(), want)
		})
	}
	b.do(t, b.key(t, auth.ScopeRead), `query ListThem { customers { totalCount } }`, nil)
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	require.Contains(t, body, `cairn_graphql_operations_total{name="ListThem",type="query"} 1`)
	require.Contains(t, body, `cairn_http_request_duration_seconds_count{code="200",route="POST /graphql"}`)
	require.True(t, strings.Contains(body, "cairn_db_") || strings.Contains(body, "go_sql_"), "db pool stats exported")
}

func TestReadyzFailsWhenMigrationsPending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.db.Exec(`DELETE FROM cairn_schema_migrations`)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "migrations pending")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestNodesRejectsTooManyIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = "0194a0a0-0000-7000-8000-000000000000"
	}
	_, resp := b.do(t, b.key(t, auth.ScopeRead), `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})
	require.Equal(t, []string{"BAD_USER_INPUT"}, resp.codes())
	require.Contains(t, resp.Errors[0].Message, "at most 1000 ids")
}
