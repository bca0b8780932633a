package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClockSkewCorrected: as Segment's libraries send them (timestamp and sentAt, no
// originalTimestamp), a client clock 2 h fast is corrected to the receive time, a deliberate
// historical timestamp stays historical, and the client's own time is kept in the context.
func TestClockSkewCorrected(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	fast := time.Now().UTC().Add(2 * time.Hour)
	historical := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	resp := b.post(t, "/v1/batch", map[string]any{
		"sentAt": fast.Add(time.Second).Format(time.RFC3339Nano),
		"batch": []any{
			map[string]any{"type": "track", "anonymousId": "a1", "event": "Fast", "messageId": "skew-fast",
				"timestamp": fast.Format(time.RFC3339Nano)},
		},
	})
	require.Equal(t, 200, resp.status, resp.body)
	resp = b.post(t, "/v1/track", map[string]any{"anonymousId": "a1", "event": "Old", "messageId": "skew-old",
		"timestamp": historical.Format(time.RFC3339Nano), "sentAt": time.Now().UTC().Format(time.RFC3339Nano)})
	require.Equal(t, 200, resp.status, resp.body)

	for _, tc := range []struct {
		id     string
		want   func(received time.Time) time.Time
		client time.Time
	}{
		{"skew-fast", func(received time.Time) time.Time { return received.Add(-time.Second) }, fast},
		{"skew-old", func(time.Time) time.Time { return historical }, historical},
	} {
		var occurred, received time.Time
		var kept string
		require.NoError(t, b.db.QueryRow(`SELECT occurred_at, received_at, context->>'originalTimestamp' FROM interactions WHERE message_id = $1`, tc.id).
			Scan(&occurred, &received, &kept))
		require.WithinDuration(t, tc.want(received), occurred, 5*time.Second, tc.id)
		keptAt, err := time.Parse(time.RFC3339Nano, kept)
		require.NoError(t, err, tc.id)
		require.WithinDuration(t, tc.client, keptAt, time.Microsecond, "%s: the client's time is kept", tc.id)
	}
}
