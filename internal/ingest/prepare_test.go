package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

func TestEventTimeCorrectsClockSkew(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s string) time.Time { tt, _ := time.Parse(time.RFC3339, s); return tt }
	cases := []struct {
		name string
		m    wire.Message
		want time.Time
	}{
		{"timestamp without sentAt", wire.Message{Timestamp: at("2026-04-01T00:00:00Z")}, at("2026-04-01T00:00:00Z")},
		// Segment's browser and node libraries send timestamp (device time) and sentAt.
		{"timestamp and sentAt 2h fast", wire.Message{Timestamp: at("2026-05-01T14:00:00Z"), SentAt: at("2026-05-01T14:00:01Z")}, received.Add(-time.Second)},
		{"historical timestamp, current sentAt", wire.Message{Timestamp: at("2024-02-03T04:05:06Z"), SentAt: received}, at("2024-02-03T04:05:06Z")},
		{"originalTimestamp wins over timestamp", wire.Message{OriginalTimestamp: at("2026-05-01T13:59:00Z"), Timestamp: at("2026-05-01T14:00:00Z"), SentAt: at("2026-05-01T14:00:00Z")}, received.Add(-time.Minute)},
		// The client's clock is 2h fast: it sent 5 s after the event, by its clock.
		{"skew corrected", wire.Message{OriginalTimestamp: at("2026-05-01T14:00:00Z"), SentAt: at("2026-05-01T14:00:05Z")}, received.Add(-5 * time.Second)},
		{"original only", wire.Message{OriginalTimestamp: at("2026-04-30T00:00:00Z")}, at("2026-04-30T00:00:00Z")},
		{"nothing", wire.Message{}, received},
		{"far future", wire.Message{Timestamp: at("2099-01-01T00:00:00Z")}, received},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.True(t, EventTime(&tc.m, received).Equal(tc.want), "%s: %v", tc.name, EventTime(&tc.m, received))
		})
	}
}

func TestTruncateIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.77":          "203.0.113.0",
		"::ffff:203.0.113.77":   "203.0.113.0",
		"2001:db8:abcd:12:1::7": "2001:db8:abcd::",
		"fe80::1%eth0":          "fe80::",
		"not an ip":             "",
		" 198.51.100.200 ":      "198.51.100.0",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, TruncateIP(in), in)
		})
	}
}

func TestRevenue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"revenue wins over total", map[string]any{"revenue": 12.5, "total": 99.0}, "12.5"},
		{"total as a string", map[string]any{"total": "99"}, "99"},
		{"not a number", map[string]any{"revenue": "lots"}, ""},
		{"beyond numeric(18,4)", map[string]any{"revenue": 1e20}, ""},
		{"no properties", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, revenueOf(tc.props))
		})
	}
}

// FuzzDecode feeds arbitrary bytes to the decoders: they must never panic, must return either a
// message that validates or a *wire.ValidationError (or wire.ErrEventTooLarge), and a decoded message
// must survive normalisation.
//
//	go test ./internal/ingest -run '^$' -fuzz FuzzDecode -fuzztime 30s
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"type":"track","userId":"u","event":"E","properties":{"revenue":"12.5"},"context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"Analytics":false}}}}`,
		`{"type":"identify","anonymousId":1,"traits":{"email":" A@B.C ","phone":"+1 415 555 0100"},"timestamp":"2026-01-01T00:00:00.123+02:00"}`,
		`{"batch":[{"type":"page","anonymousId":"a","name":"Home"},{"type":"alias","userId":"u","previousId":"a"}],"context":{"device":{"id":"d"}},"sentAt":1700000000000}`,
		`{"type":"group","userId":"u","groupId":"g","traits":{"name":"\u0000x"},"context":{"externalIds":[{"id":5,"type":"crm"}]}}`,
		`{"type":"screen","userId":null,"anonymousId":"a","originalTimestamp":"2026-01-01","sentAt":"2026-01-01 00:00:01"}`,
		`[]`, `{`, `{"batch":{}}`, ``,
	} {
		f.Add([]byte(seed))
	}
	p := &Pipeline{purposes: map[string]string{}, dropContext: map[string]struct{}{}}
	for k, v := range DefaultConsentPurposes {
		p.purposes[k] = v
	}
	p.norm = newTestNormalizer()
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(m wire.Message, err error) {
			if err != nil {
				var ve *wire.ValidationError
				if !errors.As(err, &ve) && !errors.Is(err, wire.ErrEventTooLarge) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("decoded message does not validate: %v", err)
			}
			pm, err := p.prepare(&m, time.Now())
			if err != nil {
				var ve *wire.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("prepare: unexpected error type %T: %v", err, err)
				}
				return
			}
			if pm.messageID == "" || len(pm.messageID) > wire.MaxMessageIDLen || len(pm.ids) == 0 {
				t.Fatalf("prepared message lacks an id or identifiers: %+v", pm)
			}
			if strings.Contains(pm.context, `\u0000`) || strings.Contains(pm.properties, `\u0000`) {
				t.Fatalf("NUL survived into JSON for jsonb")
			}
		}
		check(wire.Decode(data))
		if b, err := wire.DecodeBatch(data); err == nil {
			for _, m := range b.Messages {
				check(m, nil)
			}
		} else {
			check(wire.Message{}, err)
		}
	})
}

func newTestNormalizer() *identity.Normalizer {
	return identity.NewNormalizer(identity.DefaultConfig())
}
