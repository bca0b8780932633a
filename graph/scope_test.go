package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/graph/generated"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestRootFieldScopeCheckAlone runs operations through a handler that has the root-field check
// but not the operation-level ScopeCheck (the path it guards against): a field the key lacks the
// scope for is FORBIDDEN and null, with its path; one it may use resolves.
func TestRootFieldScopeCheckAlone(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{DB: db, Client: txn.NewClient(db)}}))
	srv.AddTransport(transport.POST{})
	srv.AroundRootFields(graph.RootFieldScopeCheck)

	tests := []struct {
		name     string
		scopes   []auth.Scope
		query    string
		wantData string
		wantCode string
	}{
		{"read key reads", []auth.Scope{auth.ScopeRead}, `{ segments { totalCount } }`, `{"segments":{"totalCount":0}}`, ""},
		{"ingest key may not read", []auth.Scope{auth.ScopeIngest}, `{ segments { totalCount } }`, `null`, "FORBIDDEN"},
		{"read key may not write", []auth.Scope{auth.ScopeRead}, `mutation { deleteSegment(id: "0194a0a0-0000-7000-8000-000000000000") }`, `null`, "FORBIDDEN"},
		{"introspection needs no scope", nil, `{ __typename }`, `{"__typename":"Query"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"query": tt.query})
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req = req.WithContext(auth.WithPrincipal(context.Background(), &auth.Principal{Scopes: tt.scopes}))
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			var resp struct {
				Data   json.RawMessage `json:"data"`
				Errors []struct {
					Path       []any          `json:"path"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
			require.JSONEq(t, tt.wantData, string(resp.Data))
			if tt.wantCode == "" {
				require.Empty(t, resp.Errors, rec.Body.String())
				return
			}
			require.Len(t, resp.Errors, 1, rec.Body.String())
			require.Equal(t, tt.wantCode, resp.Errors[0].Extensions["code"])
			require.Len(t, resp.Errors[0].Path, 1)
		})
	}
}
