package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
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
		})
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
		t.Run(body, func(t *testing.T) {
			t.Parallel()
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
		})
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
		t.Run("hand-built "+tc.field, func(t *testing.T) {
			t.Parallel()
			tc.m.Type, tc.m.UserID, tc.m.Event = TypeTrack, "u", "E"
			var ve *ValidationError
			require.ErrorAs(t, tc.m.Validate(), &ve, string(tc.m.Context))
			require.Equal(t, tc.field, ve.Field)
		})
	}
	// A decoded object edited by hand is checked again.
	m, err = Decode([]byte(`{"type":"track","userId":"u","event":"E","context":{"ip":"10.0.0.1"}}`))
	require.NoError(t, err)
	m.Context = json.RawMessage(`{"ip":}`)
	require.Error(t, m.Validate())
	// Bytes changed in place are not checked again; reading them fails rather than panics.
	require.Error(t, EachMember([]byte(`{"ip":     }`), func(k, v []byte) error { return nil }))
	require.Error(t, eachElement([]byte(`[1, }]`), func(v []byte) error { return nil }))
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
