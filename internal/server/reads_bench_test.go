package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/bench"
	"github.com/cairn-cdp/cairn/internal/server"
)

// BenchmarkReads runs the three reads of `cairn bench reads` (a profile, a customers page, a
// segment members page) through the whole HTTP handler, one request at a time, on a small
// database: ns/op and allocs/op are the server's own cost per request (PostgreSQL's share is
// small at this size), far steadier than the bench's requests/s on a shared machine.
//
//	go test ./internal/server -run '^$' -bench Reads -benchmem
func BenchmarkReads(b *testing.B) {
	tb := setup(b, func(c *server.Config) { c.GraphQLRate = server.RateLimit{Rate: rate.Inf} })
	ctx := context.Background()
	key := tb.key(b, auth.ScopeRead)
	// 200 customers with seed-like traits, 3 identities and 25 interactions each; a segment
	// holding all of them.
	for _, q := range []string{
		`INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
		 SELECT gen_random_uuid(), now(), now(),
		   jsonb_build_object('age', 20 + n % 50, 'name', 'Person ' || n, 'plan', CASE WHEN n % 3 = 0 THEN 'pro' ELSE 'free' END,
		     'email', 'person' || n || '@example.com', 'country', 'GB', 'last_name', 'Person', 'first_name', 'N' || n,
		     'created_at', '2026-03-21T12:59:46Z'),
		   '{}', 'person' || n || '@example.com', now() - interval '30 days', now() - n * interval '1 minute'
		 FROM generate_series(1, 200) n`,
		`INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
		 SELECT gen_random_uuid(), t, t || '-' || c.id, now(), now(), c.id
		 FROM customers c, unnest(ARRAY['email', 'user_id', 'anonymous_id']) t`,
		`INSERT INTO interactions (id, customer_id, kind, event, occurred_at, received_at, message_id, properties, context)
		 SELECT gen_random_uuid(), c.id, 'track', 'Product Viewed', now() - n * interval '1 hour', now(), gen_random_uuid()::text,
		   jsonb_build_object('product_id', 'p' || n, 'price', n * 1.5, 'currency', 'EUR'), '{}'
		 FROM customers c, generate_series(1, 25) n`,
		`INSERT INTO segments (id, created_at, updated_at, name, rule)
		 VALUES ('0194a0a0-0000-7000-8000-0000000000b1', now(), now(), 'all', '{}')`,
		`INSERT INTO segment_memberships (id, entered_at, customer_id, segment_id)
		 SELECT gen_random_uuid(), now(), id, '0194a0a0-0000-7000-8000-0000000000b1' FROM customers`,
		`ANALYZE`,
	} {
		_, err := tb.db.ExecContext(ctx, q)
		require.NoError(b, err, q)
	}
	var someone uuid.UUID
	require.NoError(b, tb.db.QueryRowContext(ctx, `SELECT id FROM customers LIMIT 1`).Scan(&someone))

	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"profile", bench.ProfileQuery, map[string]any{"id": someone}},
		{"customers", bench.CustomersQuery, map[string]any{"before": time.Now().Add(-time.Minute)}},
		{"members", bench.MembersQuery, map[string]any{"id": "0194a0a0-0000-7000-8000-0000000000b1"}},
	} {
		body, err := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
		require.NoError(b, err)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				rec := httptest.NewRecorder()
				tb.srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
					b.Fatalf("%s: HTTP %d: %s", c.name, rec.Code, rec.Body.String())
				}
			}
		})
	}
}
