package ingest

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// TestPixel: GET /v1/pixel/<type>?data=<base64 JSON> stores a valid message and answers a 1×1
// GIF; invalid or unauthorised data answers the same GIF, stores nothing and is counted.
func TestPixel(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	get := func(t *testing.T, path, data string) {
		t.Helper()
		resp, err := http.Get(b.srv.URL + path + "?data=" + data)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "image/gif", resp.Header.Get("Content-Type"))
		require.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
		require.Equal(t, transparentGIF, body)
	}
	msg := func(fields string) []byte { return []byte(`{"writeKey":"` + b.key + `",` + fields + `}`) }
	dropped := func(reason string) float64 { return testutil.ToFloat64(b.pipe.m.dropped.WithLabelValues(reason)) }

	for _, tc := range []struct {
		name, path, data, id string
	}{
		{"track, standard base64 escaped", "/v1/pixel/track", url.QueryEscape(base64.StdEncoding.EncodeToString(msg(`"userId":"p1","event":"Email Opened","messageId":"px-1","properties":{"n":"?>>"}`))), "px-1"},
		{"page, standard base64 unescaped", "/v1/pixel/page", base64.StdEncoding.EncodeToString(msg(`"anonymousId":"p2","name":"Offer","messageId":"px-2","properties":{"n":"?>>"}`)), "px-2"},
		{"identify, URL-safe unpadded", "/v1/pixel/identify", base64.RawURLEncoding.EncodeToString(msg(`"userId":"p3","traits":{"plan":"pro","n":"?>>"},"messageId":"px-3"`)), "px-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			get(t, tc.path, tc.data)
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = $1`, tc.id))
		})
	}
	require.Equal(t, "pro", b.traits(t, b.customerOf(t, "user_id", "p3"))["plan"])

	invalid, unauthorized := dropped("invalid_event"), dropped("unauthorized")
	get(t, "/v1/pixel/track", base64.StdEncoding.EncodeToString(msg(`"userId":"p4","messageId":"px-4"`)))
	require.Equal(t, invalid+1, dropped("invalid_event"), "a track without event")
	get(t, "/v1/pixel/track", base64.StdEncoding.EncodeToString([]byte(`{"writeKey":"cairn_nope_nope","userId":"p5","event":"E","messageId":"px-5"}`)))
	get(t, "/v1/pixel/track", base64.StdEncoding.EncodeToString([]byte(`{"userId":"p6","event":"E","messageId":"px-6"}`)))
	require.Equal(t, unauthorized+2, dropped("unauthorized"), "a bad key and none")
	garbage := dropped("invalid") + dropped("invalid_data")
	get(t, "/v1/pixel/track", "not*base64")
	get(t, "/v1/pixel/track", base64.StdEncoding.EncodeToString([]byte(`{"writeKey": `)))
	get(t, "/v1/pixel/track", "")
	require.Equal(t, 3.0, dropped("invalid")+dropped("invalid_data")-garbage, "not base64, not JSON, no data")
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM interactions`), "nothing else stored")
}

func TestPixelData(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"a":"??>>~~"}`)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := pixelData(enc.EncodeToString(raw))
		require.NoError(t, err)
		require.Equal(t, raw, got)
	}
	_, err := pixelData("a+b-c")
	require.Error(t, err, "mixed alphabets")
}
