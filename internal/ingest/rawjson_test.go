package ingest

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// TestRawJSONStoredAsSent checks that decoded properties and context are stored from the text
// the client sent (no re-encoding), with the ip truncated in place and a page's name and
// category winning over properties' own (so numbers keep their precision, which a round trip
// through float64 would lose).
func TestRawJSONStoredAsSent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := `{"batch":[
		{"type":"page","anonymousId":"raw-1","messageId":"raw-page","name":"Home","category":"Landing",
		 "properties":{"name":"from props","path":"/","n":12345678901234567},
		 "context":{"ip":"198.51.100.23","page":{"ip":"not the top-level one"},"library":{"name":"analytics.js"}}},
		{"type":"track","anonymousId":"raw-1","messageId":"raw-track","event":"Order Completed",
		 "properties":{"revenue":"19.5","items":[{"sku":"a"}]},"context":{"ip":"2001:db8:abcd:12:1::7"}}
	]}`
	require.Equal(t, 200, b.post(t, "/v1/batch", body).status)

	var props, ctx string
	require.NoError(t, b.db.QueryRow(`SELECT properties::text, context::text FROM interactions WHERE message_id = 'raw-page'`).Scan(&props, &ctx))
	require.JSONEq(t, `{"name":"Home","category":"Landing","path":"/","n":12345678901234567}`, props)
	require.JSONEq(t, `{"ip":"198.51.100.0","page":{"ip":"not the top-level one"},"library":{"name":"analytics.js"}}`, ctx)
	var n string
	require.NoError(t, b.db.QueryRow(`SELECT properties->>'n' FROM interactions WHERE message_id = 'raw-page'`).Scan(&n))
	require.Equal(t, "12345678901234567", n, "stored as sent: no round trip through float64")

	var revenue string
	require.NoError(t, b.db.QueryRow(`SELECT properties::text, context::text, revenue::text FROM interactions WHERE message_id = 'raw-track'`).Scan(&props, &ctx, &revenue))
	require.JSONEq(t, `{"revenue":"19.5","items":[{"sku":"a"}]}`, props)
	require.JSONEq(t, `{"ip":"2001:db8:abcd::"}`, ctx)
	require.Equal(t, "19.5000", revenue)
}

// FuzzRawJSON checks that storing properties and context from the text sent means the same as
// storing the same objects built by hand (decoded and re-encoded by json.Marshal, which
// escapes <, > and &, so that prepare decodes and re-encodes them in turn), and is valid UTF-8
// without NULs, for whatever the decoders accept.
//
//	go test ./internal/ingest -run '^$' -fuzz FuzzRawJSON -fuzztime 30s
func FuzzRawJSON(f *testing.F) {
	for _, s := range []string{
		`{"type":"track","userId":"u","event":"E","properties":{"revenue":"12.5","a":[1,{"b":"c"}]},"context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"Analytics":false}}}}`,
		`{"type":"page","userId":"u","name":"Home","category":"C","properties":{"name":"x","y":1},"context":{ "ip" : "2001:db8::1", "page":{"ip":"no"}}}`,
		`{"type":"page","userId":"u","name":"Home","properties":{ }}`,
		`{"type":"identify","userId":"u","traits":{"email":"a@b.c","n":1.0},"Context":{"ip":"10.1.2.3","device":{"id":"d"}}}`,
		`{"type":"screen","userId":"u","name":"S\"x","properties":{"k":"\"ip\""},"context":{"ip":"10.1.2.3"}}`,
		`{"type":"track","userId":"u","event":"E","properties":{"a":1},"properties":{"b":2}}`,
		`{"type":"track","userId":"u","event":"E","context":{"ip":"junk","x":"\u0000"}}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","context":{"ip":"10.0.0.1"}}],"context":{"library":{"name":"x"}}}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"p":"\ud800"},"context":{"ip":"10.0.0.1"}}]}`,
	} {
		f.Add([]byte(s))
	}
	p := &Pipeline{purposes: map[string]string{}, dropContext: map[string]struct{}{}, norm: newTestNormalizer()}
	same := func(t *testing.T, what, raw, encoded string) {
		var x, y any
		if json.Unmarshal([]byte(raw), &x) != nil || json.Unmarshal([]byte(encoded), &y) != nil || !reflect.DeepEqual(x, y) {
			t.Fatalf("%s differs: stored as sent %s, re-encoded %s", what, raw, encoded)
		}
		if !utf8.ValidString(raw) || json.Valid([]byte(raw)) && containsNUL(x) {
			t.Fatalf("%s is not storable in jsonb: %q", what, raw)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(m wire.Message) {
			pm, err := p.prepare(&m, time.Now())
			// As built by hand: every object new memory, so Validate checks them all again.
			plain := m
			plain.Context, plain.Properties, plain.Traits = reencode(t, m.Context), reencode(t, m.Properties), reencode(t, m.Traits)
			plain.Integrations = bytes.Clone(m.Integrations)
			pm2, err2 := p.prepare(&plain, time.Now())
			if (err == nil) != (err2 == nil) {
				t.Fatalf("prepare: %v with the raw text, %v without", err, err2)
			}
			if err != nil {
				return
			}
			if pm.properties != "" || pm2.properties != "" {
				same(t, "properties", pm.properties, pm2.properties)
			}
			same(t, "context", pm.context, pm2.context)
		}
		if m, err := wire.Decode(data); err == nil {
			check(m)
		}
		if b, err := wire.DecodeBatch(data); err == nil {
			for _, m := range b.Messages {
				check(m)
			}
		}
	})
}

// reencode is obj as built by hand: decoded into a map and encoded again.
func reencode(t *testing.T, obj json.RawMessage) json.RawMessage {
	if obj == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("a decoded object does not decode: %v", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("re-encoding: %v", err)
	}
	return b
}

func containsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		for i := 0; i < len(v); i++ {
			if v[i] == 0 {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if containsNUL(k) || containsNUL(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if containsNUL(x) {
				return true
			}
		}
	}
	return false
}

// TestDecodedMessageOwnsItsJSON checks that a decoded message keeps no reference to the
// caller's buffer (cairn import reuses its line buffer).
func TestDecodedMessageOwnsItsJSON(t *testing.T) {
	t.Parallel()
	p := &Pipeline{purposes: map[string]string{}, dropContext: map[string]struct{}{}, norm: newTestNormalizer()}
	data := []byte(`{"type":"track","userId":"u","event":"E","properties":{"a":"b"},"context":{"ip":"10.1.2.3"}}`)
	m, err := wire.Decode(data)
	require.NoError(t, err)
	batch := []byte(`{"batch":[` + string(data) + `]}`)
	b, err := wire.DecodeBatch(batch)
	require.NoError(t, err)
	for i := range data {
		data[i] = 'x'
	}
	for i := range batch {
		batch[i] = 'x'
	}
	for _, m := range []wire.Message{m, b.Messages[0]} {
		pm, err := p.prepare(&m, time.Now())
		require.NoError(t, err)
		require.Equal(t, `{"a":"b"}`, pm.properties)
		require.Equal(t, `{"ip":"10.1.2.0"}`, pm.context)
	}
}

// TestContextMembersAsSent checks that prepare reads the context members it needs by their
// unescaped keys, the last of duplicates winning, as a decoder would.
func TestContextMembersAsSent(t *testing.T) {
	t.Parallel()
	p := &Pipeline{purposes: map[string]string{"analytics": "analytics"}, dropContext: map[string]struct{}{}, norm: newTestNormalizer()}
	m, err := wire.Decode([]byte(`{"type":"track","anonymousId":"a","event":"E","context":{
		"\u0069p":"198.51.100.77",
		"device":{"id":"first"},"device":{"id":"second"},
		"consent":{"categoryPreferences":{"Analytics":false}},
		"library":{"name":"analytics.js"}}}`))
	require.NoError(t, err)
	pm, err := p.prepare(&m, time.Now())
	require.NoError(t, err)
	var ctx map[string]any
	require.NoError(t, json.Unmarshal([]byte(pm.context), &ctx))
	require.Equal(t, "198.51.100.0", ctx["ip"], "an escaped ip key is truncated too")
	require.Contains(t, pm.ids, identity.Identifier{Type: identity.TypeDeviceID, Value: "second"})
	require.NotContains(t, pm.ids, identity.Identifier{Type: identity.TypeDeviceID, Value: "first"})
	require.Equal(t, []consentDecision{{purpose: "analytics", granted: false, category: "Analytics"}}, pm.consents)
	require.Equal(t, "web", pm.channel)
}

// TestPageNameKeepsPropertiesStorable checks that a page's name and category, added to its
// properties as text, keep them storable as sent (json.Marshal's \u0026 for & did not).
func TestPageNameKeepsPropertiesStorable(t *testing.T) {
	t.Parallel()
	out := withMembers([]byte(`{"path":"/terms"}`), map[string]any{"name": "Terms & <Conditions>", "category": "Legal \"EU\""})
	require.True(t, wire.Storable(out), string(out))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, map[string]any{"path": "/terms", "name": "Terms & <Conditions>", "category": `Legal "EU"`}, got)
	require.Equal(t, `{"a":1}`, string(withMembers([]byte(`{"a":1}`), map[string]any{})), "nothing to add")
	require.JSONEq(t, `{"name":"Home"}`, string(withMembers(nil, map[string]any{"name": "Home"})))
}

func TestPageAndScreenEventNames(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	require.Equal(t, 200, b.post(t, "/v1/page", map[string]any{"userId": "u", "name": "Pricing", "category": "Docs",
		"properties": map[string]any{"path": "/pricing"}, "messageId": "p1"}).status)
	require.Equal(t, 200, b.post(t, "/v1/screen", map[string]any{"userId": "u", "name": "Cart", "messageId": "s1"}).status)
	require.Equal(t, 200, b.post(t, "/v1/page", map[string]any{"userId": "u", "messageId": "p2"}).status)
	for _, tc := range []struct{ id, kind, event, props string }{
		{"p1", "page", "Page Viewed", `{"category": "Docs", "name": "Pricing", "path": "/pricing"}`},
		{"s1", "screen", "Screen Viewed", `{"name": "Cart"}`},
		{"p2", "page", "Page Viewed", ``},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			var kind, event string
			var props sql.NullString
			require.NoError(t, b.db.QueryRow(`SELECT kind, event, properties::text FROM interactions WHERE message_id = $1`, tc.id).Scan(&kind, &event, &props))
			require.Equal(t, tc.kind, kind, tc.id)
			require.Equal(t, tc.event, event, tc.id)
			if tc.props == "" {
				require.False(t, props.Valid, tc.id)
			} else {
				require.JSONEq(t, tc.props, props.String, tc.id)
			}
		})
	}
}
