package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/schematype"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/graph/generated"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestPostJSONAnswersAsGqlgen sends the same requests to gqlgen's POST transport and to
// postJSON: status, content type and the JSON of the body must be the same.
func TestPostJSONAnswersAsGqlgen(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	client := txn.NewClient(db)
	_, err := client.Customer.Create().SetEmail("ada@example.com").
		SetTraits(schematype.MustObject(map[string]any{"plan": "pro", "bio": "<b>&</b>"})).Save(context.Background())
	require.NoError(t, err)
	newHandler := func(post graphql.Transport) *handler.Server {
		srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{DB: db, Client: client}}))
		srv.AddTransport(post)
		srv.SetErrorPresenter(graph.ErrorPresenter(slog.New(slog.DiscardHandler)))
		return srv
	}
	stock, fast := newHandler(transport.POST{}), newHandler(postJSON{})

	tests := []struct {
		name, body, accept string
		ended              bool // the request's context has ended (the client went away)
	}{
		{"data", `{"query":"{ customers { edges { node { email traits } } } }"}`, "", false},
		{"variables", `{"query":"query($n: Int) { customers(first: $n) { totalCount } }","variables":{"n":1}}`, "", false},
		{"field error beside data", `{"query":"{ customer(id: \"not-a-uuid\") { id } customers { totalCount } }"}`, "", false},
		{"parse error", `{"query":"{ customers { "}`, "", false},
		{"validation error", `{"query":"{ nope }"}`, "", false},
		{"not a GraphQL request", `[1, 2`, "", false},
		{"graphql-response+json", `{"query":"{ nope }"}`, "application/graphql-response+json", false},
		{"request ended", `{"query":"{ customers { totalCount } }"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			do := func(h http.Handler) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tt.body))
				req.Header.Set("Content-Type", "application/json")
				if tt.accept != "" {
					req.Header.Set("Accept", tt.accept)
				}
				ctx := auth.WithPrincipal(req.Context(), &auth.Principal{Scopes: []auth.Scope{auth.ScopeAdmin}})
				if tt.ended {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					cancel()
				}
				req = req.WithContext(ctx)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			want, got := do(stock), do(fast)
			require.Equal(t, want.Code, got.Code)
			require.Equal(t, want.Header().Get("Content-Type"), got.Header().Get("Content-Type"))
			require.True(t, json.Valid(got.Body.Bytes()), got.Body.String())
			require.JSONEq(t, want.Body.String(), got.Body.String())
		})
	}
}
