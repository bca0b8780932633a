package ingest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// TestBatchDropsInvalidMessages: a batch with invalid messages stores every valid one exactly
// once, answers 200 listing each invalid one (whether the decoder or normalisation refused it)
// and counts it; nothing else is stored.
func TestBatchDropsInvalidMessages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	good := func(id string) map[string]any {
		return map[string]any{"type": "track", "anonymousId": "a-" + id, "event": "Fine", "messageId": id}
	}
	for _, path := range []string{"/v1/batch", "/v1/import"} {
		t.Run(path, func(t *testing.T) {
			p := path[len("/v1/"):]
			body := map[string]any{"batch": []any{
				good(p + "0"), good(p + "1"),
				map[string]any{"type": "track", "anonymousId": "undefined", "event": "Junk ids"}, // refused by normalisation
				good(p + "3"),
				map[string]any{"type": "track", "event": "No ids", "messageId": p + "4"}, // refused by the decoder
				good(p + "5"),
				map[string]any{"type": "explode", "anonymousId": "a2"},
				map[string]any{"type": "track", "anonymousId": "a2"},
				map[string]any{"type": "track", "userId": "null", "event": "Junk after drops"}, // normalisation, after decoder drops
			}}
			counted := func() [4]float64 {
				var n [4]float64
				for i, reason := range []string{"invalid_anonymousId", "invalid_userId", "invalid_type", "invalid_event"} {
					n[i] = testutil.ToFloat64(b.pipe.m.dropped.WithLabelValues(reason))
				}
				return n
			}
			before := counted()
			for range 2 { // a resent batch is deduplicated
				resp := b.post(t, path, body)
				require.Equal(t, 200, resp.status, resp.body)
				require.Equal(t, true, resp.body["success"])
				require.Equal(t, []any{
					map[string]any{"index": 2.0, "field": "batch[2].anonymousId", "error": `is not a usable identifier (empty or a junk value such as "null" or "undefined"); userId or anonymousId is required`},
					map[string]any{"index": 4.0, "field": "batch[4].userId", "error": "userId or anonymousId is required"},
					map[string]any{"index": 6.0, "field": "batch[6].type", "error": `unknown message type "explode" (want identify, track, page, screen, group or alias)`},
					map[string]any{"index": 7.0, "field": "batch[7].event", "error": "is required for a track call"},
					map[string]any{"index": 8.0, "field": "batch[8].userId", "error": `is not a usable identifier (empty or a junk value such as "null" or "undefined"); userId or anonymousId is required`},
				}, resp.body["dropped"])
			}
			for _, id := range []string{"0", "1", "3", "5"} {
				require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = $1`, p+id), id)
			}
			require.Equal(t, 4, b.count(t, `SELECT count(*) FROM interactions WHERE message_id LIKE $1`, p+"%"))
			after := counted()
			require.Equal(t, [4]float64{2, 4, 2, 2}, [4]float64{after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3] - before[3]},
				"each drop counted by reason")
		})
	}
	require.Equal(t, 8, b.count(t, `SELECT count(*) FROM interactions`), "nothing else stored")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM identities WHERE value IN ('undefined', 'a2')`))

	// Every message invalid: still 200, all listed, nothing stored.
	resp := b.post(t, "/v1/batch", map[string]any{"batch": []any{map[string]any{"type": "track", "event": "E"}}})
	require.Equal(t, 200, resp.status, resp.body)
	require.Len(t, resp.body["dropped"], 1)
	require.Equal(t, 8, b.count(t, `SELECT count(*) FROM interactions`))
}

// TestBatchThatFailsToCommitStoresNothing: a batch with dropped messages whose valid ones fail
// to commit is not acknowledged and stores none of them.
func TestBatchThatFailsToCommitStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.pipe.failHook = func(m *prepared) error {
		if m.event == "Poison" {
			return errors.New("poisoned message")
		}
		return nil
	}
	var batch []any
	for i := range 5 {
		batch = append(batch, map[string]any{"type": "track", "anonymousId": fmt.Sprint("a", i), "event": "Fine"})
	}
	batch = append(batch, map[string]any{"type": "track", "event": "No ids"},
		map[string]any{"type": "track", "anonymousId": "a9", "event": "Poison"})
	resp := b.post(t, "/v1/batch", map[string]any{"batch": batch})
	require.Equal(t, 500, resp.status, resp.body)
	require.Equal(t, false, resp.body["success"])
	for _, table := range []string{"interactions", "customers", "identities"} {
		require.Equal(t, 0, b.count(t, "SELECT count(*) FROM "+table), table)
	}
}

func TestDropReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, field, want string }{
		{"top-level field", "batch[4].userId", "invalid_userId"},
		{"member of an object", "batch[12].context.ip", "invalid_context"},
		{"client-chosen name", "context.my-key", "invalid_context"},
		{"unknown field", "batch[0].nope", "invalid"},
		{"whole item", "batch[3]", "invalid"},
		{"single message", "event", "invalid_event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, dropReason(&wire.ValidationError{Field: tc.field, Message: "x"}))
		})
	}
}
