package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// corsAllows applies a browser's CORS checks (the Fetch standard's, for a request without
// credentials) to a preflight's response: whether the browser would go on to send a request
// of method with headers from origin.
func corsAllows(resp *http.Response, origin, method string, headers []string) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("preflight status %d is not ok", resp.StatusCode)
	}
	if err := corsOriginAllowed(resp, origin); err != nil {
		return err
	}
	list := func(name string) []string {
		var out []string
		for _, v := range resp.Header.Values(name) {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					out = append(out, item)
				}
			}
		}
		return out
	}
	methods := list("Access-Control-Allow-Methods")
	if method != "GET" && method != "HEAD" && method != "POST" && !slices.Contains(methods, method) && !slices.Contains(methods, "*") {
		return fmt.Errorf("method %s not allowed by %v", method, methods)
	}
	allowed := list("Access-Control-Allow-Headers")
	for _, h := range headers {
		ok := slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, h) })
		// "*" does not cover Authorization.
		if !ok && !(slices.Contains(allowed, "*") && !strings.EqualFold(h, "Authorization")) {
			return fmt.Errorf("header %s not allowed by %v", h, allowed)
		}
	}
	return nil
}

func corsOriginAllowed(resp *http.Response, origin string) error {
	got := resp.Header.Values("Access-Control-Allow-Origin")
	if len(got) != 1 || (got[0] != "*" && got[0] != origin) {
		return fmt.Errorf("Access-Control-Allow-Origin %q does not allow %s", got, origin)
	}
	return nil
}

// TestCORSPreflight drives the preflights browsers send before analytics.js's requests (a
// resent event carries X-Retry-Count) and checks the browser would send the request, then
// that it may read the answer.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const origin = "https://shop.example"
	for _, tc := range []struct {
		name    string
		path    string
		headers []string
	}{
		{"retried batch", "/v1/batch", []string{"content-type", "x-retry-count"}},
		{"retried track, short path", "/v1/t", []string{"Content-Type", "X-Retry-Count"}},
		{"basic auth and gzip", "/v1/batch", []string{"authorization", "content-encoding", "content-type"}},
		{"a header an SDK may add later", "/v1/p", []string{"content-type", "x-segment-something"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodOptions, b.srv.URL+tc.path, nil)
			require.NoError(t, err)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", strings.Join(tc.headers, ","))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.NoError(t, corsAllows(resp, origin, "POST", tc.headers))
			require.Empty(t, resp.Header.Values("Access-Control-Allow-Credentials"), "auth is by key, not cookie")
		})
	}

	// The request itself, as the browser then sends it.
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/t",
		bytes.NewReader([]byte(`{"writeKey":"`+b.key+`","anonymousId":"a-cors","event":"Retried","messageId":"cors-1"}`)))
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Retry-Count", "1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, corsOriginAllowed(resp, origin), "the page may read the answer")
	require.Empty(t, resp.Header.Values("Access-Control-Allow-Credentials"))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'cors-1'`))
}
