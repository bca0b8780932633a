package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
)

func TestDecodeValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		body  string
		field string // "" means valid
	}{
		{"valid track", `{"type":"track","anonymousId":"a","event":"E"}`, ""},
		{"numeric userId", `{"type":"identify","userId":12345}`, ""},
		{"type case-insensitive", `{"type":"Track","userId":"u","event":"E"}`, ""},
		{"no type", `{"anonymousId":"a"}`, "type"},
		{"unknown type", `{"type":"boom","anonymousId":"a"}`, "type"},
		{"no ids", `{"type":"track","event":"E"}`, "userId"},
		{"blank ids", `{"type":"track","event":"E","userId":"  ","anonymousId":""}`, "userId"},
		{"track without event", `{"type":"track","userId":"u"}`, "event"},
		{"alias without previousId", `{"type":"alias","userId":"u"}`, "previousId"},
		{"group without groupId", `{"type":"group","userId":"u"}`, "groupId"},
		{"messageId over 100", `{"type":"page","userId":"u","messageId":"` + strings.Repeat("x", 101) + `"}`, "messageId"},
		{"bad timestamp", `{"type":"page","userId":"u","timestamp":"now"}`, "timestamp"},
		{"timestamp a bool", `{"type":"page","userId":"u","timestamp":true}`, "timestamp"},
		{"properties an array", `{"type":"track","userId":"u","event":"E","properties":[1]}`, "properties"},
		{"traits a string", `{"type":"identify","userId":"u","traits":"x"}`, "traits"},
		{"userId an array", `{"type":"identify","userId":["u"]}`, "userId"},
		{"malformed", `{"type":"identify",`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tc.body))
			if tc.field == "" && tc.name != "malformed" {
				require.NoError(t, err)
				return
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field, ve.Error())
		})
	}
}

func TestDecodeBatchMergesSharedFields(t *testing.T) {
	t.Parallel()
	b, err := DecodeBatch([]byte(`{
		"writeKey": "k",
		"sentAt": "2026-01-01T00:00:10Z",
		"context": {"library": {"name": "analytics-go"}, "ip": "10.0.0.1"},
		"integrations": {"All": false},
		"batch": [
			{"type": "track", "userId": "u", "event": "E", "context": {"ip": "10.0.0.2"}, "originalTimestamp": "2026-01-01T00:00:00Z"},
			{"type": "page", "anonymousId": "a", "sentAt": "2026-01-01T00:00:20Z"}
		]}`))
	require.NoError(t, err)
	require.Equal(t, "k", b.WriteKey)
	require.Len(t, b.Messages, 2)
	m := b.Messages[0]
	var ctx map[string]any
	require.NoError(t, json.Unmarshal(m.Context, &ctx))
	require.Equal(t, "10.0.0.2", ctx["ip"], "the message's own context wins")
	require.Equal(t, map[string]any{"name": "analytics-go"}, ctx["library"])
	require.JSONEq(t, `{"All": false}`, string(m.Integrations))
	require.Nil(t, b.Messages[1].Properties, "no properties sent")
	require.JSONEq(t, `{"library": {"name": "analytics-go"}, "ip": "10.0.0.1"}`, string(b.Messages[1].Context))
	require.True(t, m.SentAt.Equal(time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)))
	require.True(t, b.Messages[1].SentAt.Equal(time.Date(2026, 1, 1, 0, 0, 20, 0, time.UTC)))
}

func TestEventTimeCorrectsClockSkew(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s string) time.Time { tt, _ := time.Parse(time.RFC3339, s); return tt }
	cases := []struct {
		name string
		m    Message
		want time.Time
	}{
		{"timestamp wins", Message{Timestamp: at("2026-04-01T00:00:00Z"), SentAt: at("2030-01-01T00:00:00Z")}, at("2026-04-01T00:00:00Z")},
		// The client's clock is 2h fast: it sent 5 s after the event, by its clock.
		{"skew corrected", Message{OriginalTimestamp: at("2026-05-01T14:00:00Z"), SentAt: at("2026-05-01T14:00:05Z")}, received.Add(-5 * time.Second)},
		{"original only", Message{OriginalTimestamp: at("2026-04-30T00:00:00Z")}, at("2026-04-30T00:00:00Z")},
		{"nothing", Message{}, received},
		{"far future", Message{Timestamp: at("2099-01-01T00:00:00Z")}, received},
	}
	for _, tc := range cases {
		require.True(t, EventTime(&tc.m, received).Equal(tc.want), "%s: %v", tc.name, EventTime(&tc.m, received))
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
		require.Equal(t, want, TruncateIP(in), in)
	}
}

func TestRevenue(t *testing.T) {
	t.Parallel()
	require.Equal(t, "12.5", revenueOf(map[string]any{"revenue": 12.5, "total": 99.0}))
	require.Equal(t, "99", revenueOf(map[string]any{"total": "99"}))
	require.Equal(t, "", revenueOf(map[string]any{"revenue": "lots"}))
	require.Equal(t, "", revenueOf(map[string]any{"revenue": 1e20}))
	require.Equal(t, "", revenueOf(nil))
}

// FuzzDecode feeds arbitrary bytes to the decoders: they must never panic, must return either a
// message that validates or a *ValidationError (or ErrEventTooLarge), and a decoded message
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
		check := func(m Message, err error) {
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) && !errors.Is(err, ErrEventTooLarge) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("decoded message does not validate: %v", err)
			}
			pm, err := p.prepare(&m, time.Now())
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("prepare: unexpected error type %T: %v", err, err)
				}
				return
			}
			if pm.messageID == "" || len(pm.messageID) > MaxMessageIDLen || len(pm.ids) == 0 {
				t.Fatalf("prepared message lacks an id or identifiers: %+v", pm)
			}
			if strings.Contains(pm.context, `\u0000`) || strings.Contains(pm.properties, `\u0000`) {
				t.Fatalf("NUL survived into JSON for jsonb")
			}
		}
		check(Decode(data))
		if b, err := DecodeBatch(data); err == nil {
			for _, m := range b.Messages {
				check(m, nil)
			}
		} else {
			check(Message{}, err)
		}
	})
}

func newTestNormalizer() *identity.Normalizer {
	return identity.NewNormalizer(identity.DefaultConfig())
}
