package ingest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/schema"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// BenchmarkBatchHTTP drives the tracking API as `cairn bench ingest` does: 8 concurrent clients
// posting /v1/batch with 100 messages each, with identity resolution (a pool of known users
// with their anonymousIds, new anonymous visitors, identify calls with traits, pages and
// orders with revenue). It reports events/s; compare with BenchmarkRawCopy run just before or
// after it (the machine's load moves both). CAIRN_BENCH_WRITERS sets Options.Writers,
// CAIRN_BENCH_SEEN identity's SeenGranularity (a duration; 0 for exact lastSeenAt).
//
//	go test ./internal/ingest -run '^$' -bench 'BatchHTTP|RawCopy' -benchtime 400x
func BenchmarkBatchHTTP(b *testing.B) {
	const clients, perBatch, users = 8, 100, 20000
	w, _ := strconv.Atoi(os.Getenv("CAIRN_BENCH_WRITERS"))
	idCfg := identity.DefaultConfig()
	if s := os.Getenv("CAIRN_BENCH_SEEN"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err, "CAIRN_BENCH_SEEN")
		idCfg.SeenGranularity = d
	}
	tb := setup(b, &setupOpts{pipeline: &Options{Writers: w}, identity: &idCfg})
	var seq atomic.Int64
	batch := func(r *rand.Rand) []byte {
		msgs := make([]any, perBatch)
		for i := range msgs {
			n := seq.Add(1)
			u := r.IntN(users)
			m := map[string]any{
				"messageId": fmt.Sprint("bench-", n), "userId": fmt.Sprint("user-", u), "anonymousId": fmt.Sprint("anon-", u),
				"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
				"context": map[string]any{"ip": "198.51.100.23", "library": map[string]any{"name": "analytics.js", "version": "2.11.1"},
					"page":      map[string]any{"path": "/products/42", "url": "https://shop.example.com/products/42", "title": "Product 42"},
					"userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},
			}
			switch k := r.IntN(20); {
			case k == 0: // a new anonymous visitor
				delete(m, "userId")
				m["anonymousId"] = fmt.Sprint("visitor-", n)
				m["type"], m["name"] = "page", "Home"
			case k == 1:
				m["type"], m["traits"] = "identify", map[string]any{"email": fmt.Sprint("user-", u, "@example.com"), "plan": "pro", "logins": n}
			case k < 4:
				m["type"], m["event"] = "track", "Order Completed"
				m["properties"] = map[string]any{"orderId": fmt.Sprint("o-", n), "revenue": 19.99 + float64(r.IntN(100)), "currency": "EUR"}
			case k < 8:
				m["type"], m["name"] = "page", "Product"
			default:
				m["type"], m["event"] = "track", "Product Viewed"
				m["properties"] = map[string]any{"product_id": fmt.Sprint("p-", r.IntN(500)), "price": 19.99, "category": "shoes"}
			}
			msgs[i] = m
		}
		raw, err := json.Marshal(map[string]any{"batch": msgs, "sentAt": time.Now().UTC().Format(time.RFC3339Nano)})
		require.NoError(b, err)
		return raw
	}

	// Known users first (steady state): every user identified once, in batches.
	for lo := 0; lo < users; lo += 1000 {
		msgs := make([]wire.Message, 0, 1000)
		for u := lo; u < lo+1000 && u < users; u++ {
			msgs = append(msgs, wire.Message{Type: wire.TypeIdentify, UserID: fmt.Sprint("user-", u), AnonymousID: fmt.Sprint("anon-", u),
				Traits: obj(map[string]any{"email": fmt.Sprint("user-", u, "@example.com"), "plan": "free"})})
		}
		tb.submit(b, msgs...)
	}
	// Bodies are made before the clock starts: real clients run elsewhere, and making JSON here
	// would take CPU from the server on this 2-core machine.
	bodies := make([][]byte, b.N)
	gen := rand.New(rand.NewPCG(7, 1))
	for i := range bodies {
		bodies[i] = batch(gen)
	}
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				body := bodies[i]
				if resp := tb.post(b, "/v1/batch", body); resp.status != 200 {
					b.Errorf("status %d: %v", resp.status, resp.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*perBatch)/elapsed.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRawCopy is the reference for BenchmarkBatchHTTP: a raw COPY of comparable rows (the
// interactions table's columns and indexes, without the customers foreign key) into a scratch
// table, 1,000 rows per COPY, on the same database server. It reports rows/s.
func BenchmarkRawCopy(b *testing.B) {
	tb := setup(b, nil)
	_, err := tb.db.Exec(`CREATE TABLE copy_bench (LIKE interactions INCLUDING DEFAULTS INCLUDING INDEXES)`)
	require.NoError(b, err)
	ctxJSON := `{"ip":"198.51.100.0","library":{"name":"analytics.js","version":"2.11.1"},"page":{"path":"/products/42","url":"https://shop.example.com/products/42","title":"Product 42"},"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"}`
	props := `{"product_id":"p-42","price":19.99,"category":"shoes"}`
	b.ResetTimer()
	start := time.Now()
	n := 0
	for i := 0; i < b.N; i++ {
		tx, err := tb.db.Begin()
		require.NoError(b, err)
		stmt, err := tx.Prepare(pq.CopyIn("copy_bench", "id", "kind", "event", "properties", "context",
			"occurred_at", "received_at", "message_id", "revenue", "source", "channel", "customer_id"))
		require.NoError(b, err)
		now := time.Now().UTC().Format(time.RFC3339Nano)
		for range 1000 {
			n++
			_, err := stmt.Exec(schema.NewID().String(), "track", "Product Viewed", props, ctxJSON, now, now,
				fmt.Sprint("copy-", n), nil, "key:x", "web", uuid.NewString())
			require.NoError(b, err)
		}
		_, err = stmt.Exec()
		require.NoError(b, err)
		require.NoError(b, stmt.Close())
		require.NoError(b, tx.Commit())
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
}
