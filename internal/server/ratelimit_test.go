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
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// setupConfig is setup with the server's Config changed by mod, and the resolvers' ent client
// made by client (nil: txn.NewClient).
func setupConfig(t *testing.T, client func(*sql.DB) *ent.Client, mod func(*server.Config)) *testBundle {
	t.Helper()
	db := testdb.New(t)
	if client == nil {
		client = txn.NewClient
	}
	log := slog.New(slog.DiscardHandler)
	keys := auth.NewKeys(db, log)
	cfg := server.Config{DB: db, Keys: keys, Log: log,
		Resolver: &graph.Resolver{DB: db, Client: client(db), Keys: keys, Log: log}}
	mod(&cfg)
	return &testBundle{db: db, keys: keys, srv: server.New(cfg)}
}

func (b *testBundle) post(t *testing.T, secret, query string) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, req)
	return rec
}

// TestGraphQLRateLimitPerKey: a key over its rate gets 429 with Retry-After; other keys don't
// pay for it.
func TestGraphQLRateLimitPerKey(t *testing.T) {
	t.Parallel()
	// One request per 1000 s sustained: the bucket does not refill during the test.
	b := setupConfig(t, nil, func(c *server.Config) { c.GraphQLRate = server.RateLimit{Rate: 0.001, Burst: 2} })
	busy, other := b.key(t, auth.ScopeRead), b.key(t, auth.ScopeRead)
	const q = `{ customers(first: 1) { totalCount } }`

	tests := []struct {
		name       string
		secret     string
		status     int
		retryAfter string
	}{
		{"first of the burst", busy, http.StatusOK, ""},
		{"second of the burst", busy, http.StatusOK, ""},
		{"over the rate", busy, http.StatusTooManyRequests, "1000"},
		{"still over the rate", busy, http.StatusTooManyRequests, "1000"},
		{"another key has its own bucket", other, http.StatusOK, ""},
		{"a bad key is refused before any bucket", "nope", http.StatusUnauthorized, ""},
	}
	for _, tc := range tests { // in order: each case spends the bucket the next one sees
		t.Run(tc.name, func(t *testing.T) {
			rec := b.post(t, tc.secret, q)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Equal(t, tc.retryAfter, rec.Header().Get("Retry-After"))
			if tc.status == http.StatusTooManyRequests {
				var resp gqlResponse
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
				require.Equal(t, []string{"RATE_LIMITED"}, resp.codes())
			}
		})
	}

	t.Run("rate.Inf is no limit", func(t *testing.T) {
		b := setupConfig(t, nil, func(c *server.Config) { c.GraphQLRate = server.RateLimit{Rate: rate.Inf} })
		secret := b.key(t, auth.ScopeRead)
		for range 5 {
			require.Equal(t, http.StatusOK, b.post(t, secret, q).Code)
		}
	})
}

// sleepyDriver spends seconds of database time (pg_sleep) before every query.
type sleepyDriver struct{ dialect.Driver }

func (d sleepyDriver) Query(ctx context.Context, query string, args, v any) error {
	if err := d.Driver.Exec(ctx, "SELECT pg_sleep(3)", []any{}, nil); err != nil {
		return err
	}
	return d.Driver.Query(ctx, query, args, v)
}

// TestGraphQLTimeout: a request whose database work outlasts GraphQLTimeout is cancelled and
// answered with TIMEOUT errors that say so.
func TestGraphQLTimeout(t *testing.T) {
	t.Parallel()
	slow := func(db *sql.DB) *ent.Client {
		return ent.NewClient(ent.Driver(sleepyDriver{entsql.OpenDB(dialect.Postgres, db)}))
	}
	b := setupConfig(t, slow, func(c *server.Config) { c.GraphQLTimeout = 100 * time.Millisecond })
	secret := b.key(t, auth.ScopeRead)
	tests := []struct{ name, query string }{
		{"a list", `{ customers(first: 5) { edges { node { id } } } }`},
		{"aliased counts", `{ a: customers(first: 1) { totalCount } b: segments(first: 1) { totalCount } }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := b.do(t, secret, tc.query, nil)
			require.NotEmpty(t, resp.Errors)
			for i, code := range resp.codes() {
				require.Equal(t, "TIMEOUT", code)
				require.Contains(t, resp.Errors[i].Message, "ran out of time (limit 100ms)")
			}
		})
	}
}
