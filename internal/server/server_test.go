package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
	"github.com/cairn-cdp/cairn/jobs"
)

type testBundle struct {
	db   *sql.DB
	keys *auth.Keys
	srv  *server.Server
}

// setup builds a server on a fresh database; configure adjusts its Config first.
func setup(t testing.TB, configure ...func(*server.Config)) *testBundle {
	t.Helper()
	db := testdb.New(t)
	client := txn.NewClient(db)
	rc, _, err := jobs.NewClient(jobs.Deps{DB: db, Client: client}, jobs.Options{})
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	keys := auth.NewKeys(db, log)
	cfg := server.Config{
		DB: db, Keys: keys, Log: log,
		Resolver: &graph.Resolver{DB: db, Client: client, Keys: keys, Jobs: jobs.Reader{Client: rc}, Log: log},
	}
	for _, f := range configure {
		f(&cfg)
	}
	srv := server.New(cfg)
	return &testBundle{db: db, keys: keys, srv: srv}
}

// key creates an API key with the scopes and returns its secret.
func (b *testBundle) key(t testing.TB, scopes ...auth.Scope) string {
	t.Helper()
	c, err := b.keys.Create(context.Background(), "test", scopes)
	require.NoError(t, err)
	return c.Secret
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r gqlResponse) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

// do posts a GraphQL request with the secret as Bearer key ("" sends none).
func (b *testBundle) do(t *testing.T, secret, query string, vars map[string]any) (int, gqlResponse) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, req)
	var resp gqlResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
	return rec.Code, resp
}
