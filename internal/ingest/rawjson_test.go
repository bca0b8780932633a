package ingest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
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
		check := func(m Message) {
			pm, err := p.prepare(&m, time.Now())
			plain := m
			plain.checked = [4]json.RawMessage{}
			plain.Context, plain.Properties, plain.Traits = reencode(t, m.Context), reencode(t, m.Properties), reencode(t, m.Traits)
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
		if m, err := Decode(data); err == nil {
			check(m)
		}
		if b, err := DecodeBatch(data); err == nil {
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
	m, err := Decode(data)
	require.NoError(t, err)
	batch := []byte(`{"batch":[` + string(data) + `]}`)
	b, err := DecodeBatch(batch)
	require.NoError(t, err)
	for i := range data {
		data[i] = 'x'
	}
	for i := range batch {
		batch[i] = 'x'
	}
	for _, m := range []Message{m, b.Messages[0]} {
		pm, err := p.prepare(&m, time.Now())
		require.NoError(t, err)
		require.Equal(t, `{"a":"b"}`, pm.properties)
		require.Equal(t, `{"ip":"10.1.2.0"}`, pm.context)
	}
}

// TestObjectsChecked covers the objects' checks: a decoded one must be an object (or null), in
// a message and at the batch level; one built by hand must also be valid JSON, which the
// decoders' output is not scanned again for.
func TestObjectsChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, field, message string }{
		{`{"type":"track","userId":"u","event":"E","properties":[1]}`, "properties", "must be a JSON object, not array"},
		{`{"type":"identify","userId":"u","traits":"x"}`, "traits", "must be a JSON object, not string"},
		{`{"type":"track","userId":"u","event":"E","integrations":true}`, "integrations", "must be a JSON object, not bool"},
		{`{"batch":[{"type":"track","userId":"u","event":"E","context":5}]}`, "batch[0].context", "must be a JSON object, not number"},
		{`{"batch":[{"type":"track","userId":"u","event":"E"}],"context":[]}`, "context", "must be a JSON object, not array"},
		{`{"batch":[{"type":"track","userId":"u","event":"E"}],"integrations":"all"}`, "integrations", "must be a JSON object, not string"},
		// Numbers beyond float64: stored, they would make the row unreadable by ent.
		{`{"type":"track","userId":"u","event":"E","properties":{"x":1e400}}`, "properties", "must be a JSON float64, not number 1e400"},
		{`{"type":"track","userId":"u","event":"E","context":{"a":[1,{"b":-1e309}]}}`, "context", "must be a JSON float64, not number -1e309"},
		{`{"type":"identify","userId":"u","traits":{"n":1e999}}`, "traits", "must be a JSON float64, not number 1e999"},
		{`{"batch":[{"type":"track","userId":"u","event":"E"}],"context":{"x":1e400}}`, "context", "must be a JSON float64, not number 1e400"},
		{`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"x":"1e400","y":1e400}}]}`, "batch[0].properties", "must be a JSON float64, not number 1e400"},
		// The first error in the document wins, as encoding/json reports it.
		{`{"context":5,"type":1,"userId":"u"}`, "context", "must be a JSON object, not number"},
		{`{"context":5,"userId":true}`, "userId", "must be a JSON string, not bool"},
		{`{"context":5}`, "context", "must be a JSON object, not number"}, // to /v1/batch below: not a missing batch
		// Every occurrence of a key is checked, not only the last.
		{`{"type":"track","userId":"u","event":"E","properties":5,"Properties":{"a":1}}`, "properties", "must be a JSON object, not number"},
		{`{"type":"track","userId":"u","event":"E","properties":{"a":1e400},"properties":{}}`, "properties", "must be a JSON float64, not number 1e400"},
		{`{"batch":[{"type":"track","userId":"u","event":"E"}],"context":5,"context":{"a":1}}`, "context", "must be a JSON object, not number"},
		{`{"batch":[{"type":"track","userId":"u","event":"E","traits":[],"traits":{}}]}`, "batch[0].traits", "must be a JSON object, not array"},
	} {
		var err error
		if strings.HasPrefix(tc.body, `{"batch"`) || tc.body == `{"context":5}` {
			_, err = DecodeBatch([]byte(tc.body))
		} else {
			_, err = Decode([]byte(tc.body))
		}
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, tc.body)
		require.Equal(t, tc.field, ve.Field, tc.body)
		require.Equal(t, tc.message, ve.Message, tc.body)
	}

	_, err := Decode([]byte(`{"type":"track","userId":"u","event":"E","properties":{"tiny":1e-400,"s":"1e999"}}`))
	require.NoError(t, err, "an underflow is 0 to encoding/json, and strings are not numbers")

	// An object sent twice merges, as encoding/json merged it into one map: the later
	// occurrence's members win, and null empties it.
	for body, want := range map[string]string{
		`{"type":"track","userId":"u","event":"E","properties":{"a":1,"c":{"x":1}},"properties":{"b":2,"c":{"y":2}}}`: `{"a":1,"b":2,"c":{"y":2}}`,
		`{"type":"track","userId":"u","event":"E","properties":{"a":1},"Properties":{}}`:                              `{"a":1}`,
		`{"type":"track","userId":"u","event":"E","properties":null,"properties":{"b":1}}`:                            `{"b":1}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"a":1},"properties":{"b":2}}]}`:             `{"a":1,"b":2}`,
	} {
		var props json.RawMessage
		if strings.HasPrefix(body, `{"batch"`) {
			b, err := DecodeBatch([]byte(body))
			require.NoError(t, err, body)
			props = b.Messages[0].Properties
		} else {
			m, err := Decode([]byte(body))
			require.NoError(t, err, body)
			props = m.Properties
		}
		var got, exp map[string]any
		require.NoError(t, json.Unmarshal(props, &got), body)
		require.NoError(t, json.Unmarshal([]byte(want), &exp))
		require.Equal(t, exp, got, body)
	}
	m, err := Decode([]byte(`{"type":"track","userId":"u","event":"E","properties":{"a":1},"properties":null}`))
	require.NoError(t, err)
	require.Nil(t, m.Properties, "null empties an object sent before it")

	m, err = Decode([]byte(`{"type":"track","userId":"u","event":"E","context":null,"properties":null}`))
	require.NoError(t, err)
	require.Nil(t, m.Context)
	require.Nil(t, m.Properties)

	for _, tc := range []struct {
		m     Message
		field string
	}{
		{Message{Context: json.RawMessage(`{"ip":`)}, "context"},
		{Message{Properties: json.RawMessage(`[1,2]`)}, "properties"},
		{Message{Traits: json.RawMessage(`{"a":1}}`)}, "traits"},
		{Message{Integrations: json.RawMessage(`"x"`)}, "integrations"},
	} {
		tc.m.Type, tc.m.UserID, tc.m.Event = TypeTrack, "u", "E"
		var ve *ValidationError
		require.ErrorAs(t, tc.m.Validate(), &ve, string(tc.m.Context))
		require.Equal(t, tc.field, ve.Field)
	}
	// A decoded object edited by hand is checked again.
	m, err = Decode([]byte(`{"type":"track","userId":"u","event":"E","context":{"ip":"10.0.0.1"}}`))
	require.NoError(t, err)
	m.Context = json.RawMessage(`{"ip":}`)
	require.Error(t, m.Validate())
	// Bytes changed in place are not checked again; reading them fails rather than panics.
	require.Error(t, eachMember([]byte(`{"ip":     }`), func(k, v []byte) error { return nil }))
	require.Error(t, eachElement([]byte(`[1, }]`), func(v []byte) error { return nil }))
}

// TestContextMembersAsSent checks that prepare reads the context members it needs by their
// unescaped keys, the last of duplicates winning, as a decoder would.
func TestContextMembersAsSent(t *testing.T) {
	t.Parallel()
	p := &Pipeline{purposes: map[string]string{"analytics": "analytics"}, dropContext: map[string]struct{}{}, norm: newTestNormalizer()}
	m, err := Decode([]byte(`{"type":"track","anonymousId":"a","event":"E","context":{
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
	require.True(t, storable(out), string(out))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, map[string]any{"path": "/terms", "name": "Terms & <Conditions>", "category": `Legal "EU"`}, got)
	require.Equal(t, `{"a":1}`, string(withMembers([]byte(`{"a":1}`), map[string]any{})), "nothing to add")
	require.JSONEq(t, `{"name":"Home"}`, string(withMembers(nil, map[string]any{"name": "Home"})))
}

// TestHandBuiltObjectNumbersChecked checks that Validate refuses in a message built by hand what
// the decoders refuse in a decoded one: a number beyond float64, which stored would make the
// row unreadable.
func TestHandBuiltObjectNumbersChecked(t *testing.T) {
	t.Parallel()
	m := Message{Type: TypeTrack, UserID: "u", Event: "E", Properties: json.RawMessage(`{"x":[1,1e400]}`)}
	var ve *ValidationError
	require.ErrorAs(t, m.Validate(), &ve)
	require.Equal(t, "properties", ve.Field)
	require.Equal(t, "must be a JSON float64, not number 1e400", ve.Message)
	m.Properties = json.RawMessage(` null `)
	require.NoError(t, m.Validate())
}
