package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

func TestBatchIsSegmentShaped(t *testing.T) {
	t.Parallel()
	p := NewPayloads("run1", 500, 1, 2)
	ids := map[string]bool{}
	types := map[string]int{}
	var withUser, withAnon, anonOnly, userOnly, identifyWithEmail int
	for range 20 {
		body := p.Batch(100)
		require.True(t, json.Valid(body), "%s", body)

		// The API's own decoder accepts it.
		b, err := wire.DecodeBatch(body)
		require.NoError(t, err)
		require.Len(t, b.Messages, 100)

		var raw struct {
			Batch []map[string]any `json:"batch"`
		}
		require.NoError(t, json.Unmarshal(body, &raw))
		for i, m := range raw.Batch {
			typ, _ := m["type"].(string)
			types[typ]++
			mid, _ := m["messageId"].(string)
			require.NotEmpty(t, mid)
			require.False(t, ids[mid], "messageId %s repeated", mid)
			ids[mid] = true
			ts, _ := m["timestamp"].(string)
			_, err := time.Parse(time.RFC3339Nano, ts)
			require.NoError(t, err, "timestamp %q", ts)
			uid, hasUser := m["userId"].(string)
			aid, hasAnon := m["anonymousId"].(string)
			require.True(t, (hasUser && uid != "") || (hasAnon && aid != ""), "message needs userId or anonymousId")
			switch {
			case hasUser && hasAnon:
				withUser++
				withAnon++
			case hasUser:
				userOnly++
			default:
				anonOnly++
			}
			switch typ {
			case "track":
				require.NotEmpty(t, m["event"])
			case "identify":
				traits, _ := m["traits"].(map[string]any)
				if email, _ := traits["email"].(string); email != "" {
					identifyWithEmail++
				}
			}
			require.Equal(t, typ, b.Messages[i].Type)
			require.NoError(t, b.Messages[i].Validate())
		}
	}
	require.Equal(t, 2000, len(ids))
	for _, typ := range []string{"track", "page", "identify"} {
		require.Positive(t, types[typ], "type %s", typ)
	}
	require.Positive(t, anonOnly, "anonymous browsing")
	require.Positive(t, withUser, "identified events carrying both ids")
	require.Positive(t, userOnly, "server-side events with userId only")
	require.Positive(t, identifyWithEmail, "identifies with traits.email")
}

func TestTrackIsSegmentShaped(t *testing.T) {
	t.Parallel()
	p := NewPayloads("run2", 50, 3, 4)
	seen := map[string]bool{}
	for range 300 {
		body := p.Track()
		m, err := wire.Decode(body)
		require.NoError(t, err, "%s", body)
		require.Equal(t, "track", m.Type)
		require.NotEmpty(t, m.Event)
		require.False(t, m.Timestamp.IsZero())
		require.False(t, seen[m.MessageID])
		seen[m.MessageID] = true
	}
}

func TestPeopleAreStableWithinARun(t *testing.T) {
	t.Parallel()
	// Two clients of one run talk about the same people (so their events resolve to the same
	// profiles); another run's people are new.
	a, b, c := NewPayloads("same", 10, 1, 1), NewPayloads("same", 10, 1, 2), NewPayloads("other", 10, 1, 1)
	require.Equal(t, a.anonymousID(3), b.anonymousID(3))
	require.Equal(t, a.userID(3), b.userID(3))
	require.NotEqual(t, a.anonymousID(3), a.anonymousID(4))
	require.NotEqual(t, a.anonymousID(3), c.anonymousID(3))
	require.NotEqual(t, a.userID(3), c.userID(3))
}
