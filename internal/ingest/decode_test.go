package ingest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/bench"
)

// jsonStringCases are JSON string values (and a few non-strings) whose decoding by jsonString
// must match encoding/json's: plain text, escapes, invalid UTF-8, control characters.
var jsonStringCases = []string{
	`""`, `"plain"`, `"caf` + "\u00e9" + `"`, `"\u00e9"`, `"a\"b"`, `"a\\"`, `"\ud800"`, `"\u0000"`,
	"\"raw\ttab\"", "\"bad\xffbyte\"", `"unterminated`, `"`, `12`, `null`, `"a"b"`,
}

func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, c := range jsonStringCases {
		checkJSONString(t, []byte(c))
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
	got, err := jsonString(b)
	require.Equal(t, wantErr == nil, err == nil, "%q: encoding/json error %v, jsonString error %v", b, wantErr, err)
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
