package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/bench"
)

// jsonStringCases are JSON string values (and a few non-strings) whose decoding by Unquote
// must match encoding/json's: plain text, escapes, invalid UTF-8, control characters.
var jsonStringCases = []string{
	`""`, `"plain"`, `"caf` + "\u00e9" + `"`, `"\u00e9"`, `"a\"b"`, `"a\\"`, `"\ud800"`, `"\u0000"`,
	"\"raw\ttab\"", "\"bad\xffbyte\"", `"unterminated`, `"`, `12`, `null`, `"a"b"`,
}

func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, c := range jsonStringCases {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			checkJSONString(t, []byte(c))
		})
	}
}

func FuzzJSONString(f *testing.F) {
	for _, c := range jsonStringCases {
		f.Add([]byte(c))
	}
	f.Fuzz(checkJSONString)
}

func checkJSONString(t *testing.T, b []byte) {
	var want string
	wantErr := json.Unmarshal(b, &want)
	got, err := Unquote(b)
	require.Equal(t, wantErr == nil, err == nil, "%q: encoding/json error %v, Unquote error %v", b, wantErr, err)
	require.Equal(t, want, got, "%q", b)
}

// BenchmarkDecodeBatch decodes a /v1/batch body of 100 simulated messages.
func BenchmarkDecodeBatch(b *testing.B) {
	p := bench.NewPayloads("decode", 20000, 1, 1)
	body := []byte(`{"batch":[`)
	for i := range 100 {
		if i > 0 {
			body = append(body, ',')
		}
		body = p.Message(body)
	}
	body = append(body, `],"sentAt":"2026-11-22T10:00:00Z"}`...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzFastDecodeMatches checks DecodeBatch's and Decode's fast path against encoding/json's:
// whatever the fast path accepts, encoding/json must accept and decode alike.
//
//	go test ./internal/ingest/wire -run '^$' -fuzz FuzzFastDecodeMatches -fuzztime 60s
func FuzzFastDecodeMatches(f *testing.F) {
	p := bench.NewPayloads("fuzz", 100, 1, 1)
	f.Add(p.Batch(3))
	f.Add(p.Message(nil))
	for _, s := range []string{
		`{"batch":[{"type":"track","userId":7,"event":"E","USERID":"u","Type":null,"context":{"ip":"1.2.3.4"}}],"Context":{"a":1},"writekey":"k","sentAt":null}`,
		`{"type":"identify","anonymousId":-1.5e3,"traits":{"email":"a@b.c"},"timestamp":"2026-01-01T00:00:00Z","\u0075serId":"x"}`,
		`{"batch":[{"type":"page","anonymousId":"a\ud800","name":"\u00e9"}],"batch":[{"type":"alias","userId":"u","previousId":"a"}],"integrations":{"All":false}}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","properties":[]}]}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"n":1e400}}],"context":{"x":[1e-400]}}`,
		`{"type":"track","userId":"u","event":true}`,
		`{"type":"track","userId":"u\xff","event":"E","messageId":null}`,
		`{"type":"track","userId":"u","event":"E","properties":5,"Properties":{"a":1}}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"a":1},"properties":{"b":2}}],"context":{"a":1},"context":{"c":3}}`,
	} {
		f.Add([]byte(s))
	}
	same := func(t *testing.T, fast, slow Message) {
		fast.checked, slow.checked = [4]json.RawMessage{}, [4]json.RawMessage{}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decoded differently:\nfast %+v\nslow %+v", fast, slow)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		if len(data) == 0 || data[0] != '{' {
			return
		}
		if w, items, ok := scanBatchFast(data); ok {
			if fast, err := batchOf(w, items); err == nil {
				slow, err := decodeBatchSlow(data)
				if err != nil {
					t.Fatalf("fast path accepted a body encoding/json refuses: %v", err)
				}
				if fast.WriteKey != slow.WriteKey || len(fast.Messages) != len(slow.Messages) || len(fast.Dropped) != len(slow.Dropped) {
					t.Fatalf("batches differ: key %q/%q, %d/%d messages, %d/%d dropped", fast.WriteKey, slow.WriteKey,
						len(fast.Messages), len(slow.Messages), len(fast.Dropped), len(slow.Dropped))
				}
				for i := range fast.Messages {
					same(t, fast.Messages[i], slow.Messages[i])
					if fast.Position(i) != slow.Position(i) {
						t.Fatalf("message %d: positions differ: %d, %d", i, fast.Position(i), slow.Position(i))
					}
				}
				for i := range fast.Dropped {
					if f, s := fast.Dropped[i], slow.Dropped[i]; f.Index != s.Index || f.Err.Error() != s.Err.Error() {
						t.Fatalf("dropped item %d differs: %d %v, %d %v", i, f.Index, f.Err, s.Index, s.Err)
					}
				}
			}
		}
		var w wireMessage
		if validJSON(data) && w.decodeFast(data) {
			if fast, err := w.message("track"); err == nil && fast.Validate() == nil {
				slow, key, err := decodeAsSlow(data, "track")
				if err != nil {
					t.Fatalf("fast path accepted a message encoding/json refuses: %v", err)
				}
				same(t, fast, slow)
				if key != string(w.WriteKey) {
					t.Fatalf("write keys differ: %q, %q", w.WriteKey, key)
				}
			}
		}
	})
}

// TestFastDecodeTaken checks that what clients commonly send takes the fast path (it falls
// back silently, so only this notices it stopped working), and what it must leave to
// encoding/json does not.
func TestFastDecodeTaken(t *testing.T) {
	t.Parallel()
	p := bench.NewPayloads("fast", 1000, 1, 1)
	_, items, ok := scanBatchFast(p.Batch(100))
	require.True(t, ok)
	require.Len(t, items, 100)
	var w wireMessage
	require.True(t, w.decodeFast(p.Message(nil)))
	for _, tc := range []struct{ name, body string }{
		{"a type error", `{"batch":[{"type":"track","userId":"u","event":true}]}`},
		{"a syntax error", `{"batch":[{"type":"track","userId":"u","event":"E"}],}`},
		{"folded only by Unicode rules", `{"batch":[{"type":"track","userId":"u","\u212aey":"E"}]}`},
		{"not an object", `{"batch":[1]}`},
		{"no batch", `{"batch":null}`},
		{"writeKey not a string", `{"batch":[{"type":"track","userId":"u","event":"E"}],"sentAt":1,"writeKey":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, ok := scanBatchFast([]byte(tc.body))
			require.False(t, ok, tc.body)
		})
	}
}

// TestDecodeBatchItemsDropsInvalidItems: an invalid item is left out and listed, naming its
// field, whichever path decoded the body; the valid ones keep their positions.
func TestDecodeBatchItemsDropsInvalidItems(t *testing.T) {
	t.Parallel()
	good := `{"type":"track","userId":"u","event":"E"}`
	for _, tc := range []struct {
		name    string
		body    string
		fast    bool
		dropped map[int]string // index → field
		kept    []int
	}{
		{"missing ids", `{"writeKey":"k","batch":[` + good + `,` + good + `,{"type":"track","event":"E"},` + good + `]}`,
			true, map[int]string{2: "batch[2].userId"}, []int{0, 1, 3}},
		{"missing event and type", `{"batch":[{"type":"track","userId":"u"},` + good + `,{"userId":"u"}]}`,
			true, map[int]string{0: "batch[0].event", 2: "batch[2].type"}, []int{1}},
		{"a wrong type", `{"batch":[` + good + `,{"type":"track","userId":true,"event":"E"}]}`,
			false, map[int]string{1: "batch[1].userId"}, []int{0}},
		{"not an object", `{"batch":[1,` + good + `]}`, false, map[int]string{0: "batch[0]"}, []int{1}},
		{"a bad object", `{"batch":[{"type":"track","userId":"u","event":"E","context":5},` + good + `]}`,
			true, map[int]string{0: "batch[0].context"}, []int{1}},
		{"all invalid", `{"batch":[{"type":"track"}]}`, true, map[int]string{0: "batch[0].userId"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, fast := scanBatchFast([]byte(tc.body))
			require.Equal(t, tc.fast, fast, "path taken")
			b, err := DecodeBatchItems([]byte(tc.body))
			require.NoError(t, err)
			got := map[int]string{}
			for _, d := range b.Dropped {
				var ve *ValidationError
				require.ErrorAs(t, d.Err, &ve)
				got[d.Index] = ve.Field
			}
			require.Equal(t, tc.dropped, got)
			var kept []int
			for i := range b.Messages {
				kept = append(kept, b.Position(i))
			}
			require.Equal(t, tc.kept, kept)

			_, err = DecodeBatch([]byte(tc.body))
			require.EqualError(t, err, b.Dropped[0].Err.Error(), "DecodeBatch fails on the first invalid item")
		})
	}

	// An oversized item is dropped too, its error wrapping ErrEventTooLarge.
	big := `{"type":"track","userId":"u","event":"E","properties":{"x":"` + strings.Repeat("x", MaxEventBytes) + `"}}`
	b, err := DecodeBatchItems([]byte(`{"batch":[` + good + `,` + big + `]}`))
	require.NoError(t, err)
	require.Len(t, b.Messages, 1)
	require.Len(t, b.Dropped, 1)
	require.ErrorIs(t, b.Dropped[0].Err, ErrEventTooLarge)

	// Body-level problems still fail the body.
	for _, body := range []string{`{"batch":[` + good + `],}`, `{"batch":[` + good + `],"context":5}`, `{"nobatch":1}`} {
		_, err := DecodeBatchItems([]byte(body))
		require.Error(t, err, body)
	}
}
