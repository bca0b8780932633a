package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

func TestTrackStoresEventOnProfile(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.addSegment(t)
	resp := b.post(t, "/v1/track", map[string]any{
		"userId": "u1", "anonymousId": "a1", "event": "Order Completed", "messageId": "m1",
		"properties": map[string]any{"revenue": 42.5, "currency": "EUR"},
		"context":    map[string]any{"ip": "203.0.113.77", "library": map[string]any{"name": "analytics-go"}},
		"timestamp":  "2026-01-02T03:04:05Z",
	})
	require.Equal(t, 200, resp.status, resp.body)
	require.Equal(t, true, resp.body["success"])

	cust := b.customerOf(t, "user_id", "u1")
	require.Equal(t, cust, b.customerOf(t, "anonymous_id", "a1"))
	var kind, event, source, ctxJSON string
	var revenue float64
	require.NoError(t, b.db.QueryRow(`SELECT kind, event, revenue, source, context::text FROM interactions WHERE message_id = 'm1' AND customer_id = $1`, cust).
		Scan(&kind, &event, &revenue, &source, &ctxJSON))
	require.Equal(t, "track", kind)
	require.Equal(t, "Order Completed", event)
	require.InDelta(t, 42.5, revenue, 0.0001)
	require.True(t, strings.HasPrefix(source, "key:"), source)
	var ctx map[string]any
	require.NoError(t, json.Unmarshal([]byte(ctxJSON), &ctx))
	require.Equal(t, "203.0.113.0", ctx["ip"], "IP truncated to /24")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM segment_dirty_customers WHERE customer_id = $1`, cust), "queued for the segment")
}

func TestWriteKeyInBodyAndGzip(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp := b.postWith(t, "/v1/batch", map[string]any{
		"writeKey": b.key,
		"batch":    []any{map[string]any{"type": "track", "anonymousId": "a1", "event": "Viewed", "messageId": "g1"}},
	}, "", true)
	require.Equal(t, 200, resp.status, resp.body)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'g1'`))
}

// TestBadPayloadWithKeyInBody: a client that sends its write key in the body (analytics.js)
// learns what is wrong with the payload (400/413, or a batch's 200 listing what it dropped),
// not that a key is missing (401).
func TestBadPayloadWithKeyInBody(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for name, c := range map[string]struct {
		path   string
		body   map[string]any
		status int
	}{
		"bad item":           {"/v1/batch", map[string]any{"writeKey": b.key, "batch": []any{map[string]any{"type": "track", "anonymousId": "a1"}}}, 200},
		"key in an item":     {"/v1/batch", map[string]any{"batch": []any{map[string]any{"type": "track", "anonymousId": "a1", "event": "E", "writeKey": b.key}, map[string]any{"type": "track"}}}, 200},
		"bad sentAt":         {"/v1/batch", map[string]any{"writeKey": b.key, "sentAt": "yesterday", "batch": []any{}}, 400},
		"too large":          {"/v1/batch", map[string]any{"writeKey": b.key, "batch": []any{map[string]any{"type": "track", "anonymousId": "a1", "event": strings.Repeat("x", wire.MaxEventBytes)}}}, 413},
		"bad timestamp":      {"/v1/track", map[string]any{"writeKey": b.key, "anonymousId": "a1", "event": "E", "timestamp": "yesterday"}, 400},
		"missing the event":  {"/v1/track", map[string]any{"writeKey": b.key, "anonymousId": "a1"}, 400},
		"bad batch context":  {"/v1/batch", map[string]any{"writeKey": b.key, "context": 5, "batch": []any{map[string]any{"type": "track", "anonymousId": "a1", "event": "E"}}}, 400},
		"wrong type in item": {"/v1/batch", map[string]any{"batch": []any{map[string]any{"type": "track", "anonymousId": "a1", "event": "E", "userId": true, "writeKey": b.key}}}, 200},
		"wrong type":         {"/v1/track", map[string]any{"writeKey": b.key, "anonymousId": "a1", "event": "E", "userId": true}, 400},
		"message too large":  {"/v1/track", map[string]any{"writeKey": b.key, "anonymousId": "a1", "event": strings.Repeat("x", wire.MaxEventBytes)}, 413},
	} {
		t.Run(name, func(t *testing.T) {
			resp := b.postWith(t, c.path, c.body, "", false)
			require.Equal(t, c.status, resp.status, "%s: %v", name, resp.body)
		})
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions`), "only the valid item of \"key in an item\"")
}

func TestAuthRejected(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	readKey, err := b.keys.Create(context.Background(), "reader", []auth.Scope{auth.ScopeRead})
	require.NoError(t, err)
	adminKey, err := b.keys.Create(context.Background(), "admin", []auth.Scope{auth.ScopeAdmin})
	require.NoError(t, err)
	msg := map[string]any{"anonymousId": "a1", "event": "E"}
	for name, key := range map[string]string{"none": "", "garbage": "cairn_nope_nope", "read scope": readKey.Secret} {
		t.Run(name, func(t *testing.T) {
			resp := b.postWith(t, "/v1/track", msg, key, false)
			require.Equal(t, 401, resp.status, name)
			require.Equal(t, false, resp.body["success"], name)
		})
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 200, b.postWith(t, "/v1/track", msg, adminKey.Secret, false).status, "admin may ingest")
}

// TestRejectedRequestsStoreNothing sends every 4xx case and checks nothing at all was written.
func TestRejectedRequestsStoreNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	good := map[string]any{"type": "track", "anonymousId": "a-good", "event": "Fine"}
	bigProps := map[string]any{"blob": strings.Repeat("x", wire.MaxEventBytes)}
	many := make([]any, wire.MaxBatchSize+1)
	for i := range many {
		many[i] = good
	}
	// ~600 KB of valid, small messages: over the request limit, each under the event limit.
	var huge []any
	for i := 0; i < 40; i++ {
		huge = append(huge, map[string]any{"type": "track", "anonymousId": fmt.Sprint("a", i), "event": "E",
			"properties": map[string]any{"blob": strings.Repeat("y", 15<<10)}})
	}
	cases := []struct {
		name   string
		path   string
		body   any
		status int
		field  string
	}{
		{"malformed JSON", "/v1/track", `{"anonymousId": "a1", "event": `, 400, ""},
		{"not an object", "/v1/track", `["x"]`, 400, ""},
		{"no ids", "/v1/track", map[string]any{"event": "E"}, 400, "userId"},
		{"junk ids", "/v1/track", map[string]any{"event": "E", "anonymousId": "undefined", "userId": "null"}, 400, "userId"},
		{"track without event", "/v1/track", map[string]any{"anonymousId": "a1"}, 400, "event"},
		{"alias without previousId", "/v1/alias", map[string]any{"userId": "u1"}, 400, "previousId"},
		{"long messageId", "/v1/track", map[string]any{"anonymousId": "a1", "event": "E", "messageId": strings.Repeat("m", 101)}, 400, "messageId"},
		{"bad timestamp", "/v1/track", map[string]any{"anonymousId": "a1", "event": "E", "timestamp": "yesterday"}, 400, "timestamp"},
		{"context not an object", "/v1/track", map[string]any{"anonymousId": "a1", "event": "E", "context": "x"}, 400, "context"},
		{"userId an object", "/v1/track", map[string]any{"anonymousId": "a1", "event": "E", "userId": map[string]any{}}, 400, "userId"},
		{"event too large", "/v1/track", map[string]any{"anonymousId": "a1", "event": "E", "properties": bigProps}, 413, ""},
		{"batch item too large", "/v1/batch", map[string]any{"batch": []any{good, map[string]any{"type": "track", "anonymousId": "a1", "event": "E", "properties": bigProps}}}, 413, ""},
		{"request too large", "/v1/batch", map[string]any{"batch": huge}, 413, ""},
		{"too many messages", "/v1/batch", map[string]any{"batch": many}, 400, "batch"},
		{"batch without batch", "/v1/batch", map[string]any{"foo": 1}, 400, "batch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.post(t, tc.path, tc.body)
			require.Equal(t, tc.status, resp.status, "%s: %v", tc.name, resp.body)
			require.Equal(t, false, resp.body["success"], tc.name)
			require.NotEmpty(t, resp.body["error"], tc.name)
			if tc.field != "" {
				require.Equal(t, tc.field, resp.body["field"], "%s: %v", tc.name, resp.body)
			}
		})
	}
	for _, table := range []string{"interactions", "customers", "identities", "consents", "segment_dirty_customers"} {
		require.Equal(t, 0, b.count(t, "SELECT count(*) FROM "+table), table)
	}
	require.Equal(t, 0, b.count(t, "SELECT count(*) FROM audit_events WHERE action <> 'api_key.create'"))
}

func TestUnknownEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	require.Equal(t, 404, b.post(t, "/v1/explode", map[string]any{}).status)
}
