package console_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/console"
)

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	console.New().Register(mux)
	return mux
}

func get(t *testing.T, mux http.Handler, path string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func TestIndexAndAssets(t *testing.T) {
	t.Parallel()
	mux := newMux()
	index := get(t, mux, "/", nil)
	require.Equal(t, http.StatusOK, index.Code)
	require.Equal(t, "no-cache", index.Header().Get("Cache-Control"))
	csp := index.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "connect-src 'self'")
	require.Regexp(t, `script-src 'self' 'sha256-[A-Za-z0-9+/=]+'`, csp)
	body := index.Body.String()
	require.NotContains(t, body, "{{")
	require.NotContains(t, body, "http://")
	require.NotContains(t, body, "https://")

	app := regexp.MustCompile(`src="(/assets/[0-9a-f]+/app\.js)"`).FindStringSubmatch(body)
	require.Len(t, app, 2)
	versioned := strings.TrimSuffix(app[1], "app.js")

	tests := []struct {
		name, path, encoding, wantType string
		wantStatus                     int
		wantGzip                       bool
	}{
		{"module gzipped", versioned + "app.js", "gzip, br", "text/javascript; charset=utf-8", http.StatusOK, true},
		{"module plain", versioned + "app.js", "", "text/javascript; charset=utf-8", http.StatusOK, false},
		{"gzip refused", versioned + "app.css", "gzip;q=0", "text/css; charset=utf-8", http.StatusOK, false},
		{"vendored module", versioned + "vendor/preact.module.js", "gzip", "text/javascript; charset=utf-8", http.StatusOK, true},
		{"old version", "/assets/000000000000/app.js", "", "", http.StatusNotFound, false},
		{"unknown file", versioned + "nope.js", "", "", http.StatusNotFound, false},
		{"other paths are not the console", "/nope", "", "", http.StatusNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(t, mux, tc.path, map[string]string{"Accept-Encoding": tc.encoding})
			require.Equal(t, tc.wantStatus, rec.Code)
			if tc.wantStatus != http.StatusOK {
				return
			}
			require.Equal(t, tc.wantType, rec.Header().Get("Content-Type"))
			require.Equal(t, "public, max-age=31536000, immutable", rec.Header().Get("Cache-Control"))
			if tc.wantGzip {
				require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
				zr, err := gzip.NewReader(rec.Body)
				require.NoError(t, err)
				_, err = io.ReadAll(zr)
				require.NoError(t, err)
			} else {
				require.Empty(t, rec.Header().Get("Content-Encoding"))
			}
			again := get(t, mux, tc.path, map[string]string{"If-None-Match": rec.Header().Get("ETag")})
			require.Equal(t, http.StatusNotModified, again.Code)
		})
	}
}

func TestPlaygroundIsServedFromTheBinary(t *testing.T) {
	t.Parallel()
	mux := newMux()
	page := get(t, mux, "/playground", nil)
	require.Equal(t, http.StatusOK, page.Code)
	body := page.Body.String()
	require.NotContains(t, body, "http://")
	require.NotContains(t, body, "https://")
	srcs := regexp.MustCompile(`(?:src|href)="(/playground/assets/[^"]+)"`).FindAllStringSubmatch(body, -1)
	require.Len(t, srcs, 5) // the stylesheet, react, react-dom, graphiql, playground.js
	for _, m := range srcs {
		require.Equal(t, http.StatusOK, get(t, mux, m[1], nil).Code, m[1])
	}
}
