package ingest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
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
// re-encoding the decoded maps (as prepare does for messages built by hand), and is valid
// UTF-8 without NULs, for whatever the decoders accept.
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
			plain.raw = rawMembers{}
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
