package ingest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7, fd00::/8")
	require.NoError(t, err)
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"peer", "203.0.113.9:4321", nil, "203.0.113.9"},
		{"untrusted peer's header ignored", "203.0.113.9:4321", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted proxy", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"single trusted address", "192.0.2.7:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"forged hops left of the client", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several headers", "10.1.2.3:80", []string{"6.6.6.6", "198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"all trusted", "10.1.2.3:80", []string{"10.4.4.4"}, "10.4.4.4"},
		{"malformed hop", "10.1.2.3:80", []string{"nonsense, 10.4.4.4"}, "10.4.4.4"},
		{"no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"IPv6 peer", "[2001:db8::5]:443", nil, "2001:db8::5"},
		{"IPv6 through a proxy", "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
		{"unknown peer", "pipe", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/v1/t", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			require.Equal(t, tc.want, clientIP(r, trusted))
		})
	}
	for _, bad := range []string{"10.0.0.0/33", "nope", "10.0.0.1/8/1"} {
		_, err := ParseTrustedProxies(bad)
		require.Error(t, err, bad)
	}
}

// TestContextIPFromRequest: a message without context.ip is stored with the request's address,
// truncated; X-Forwarded-For counts only from a trusted proxy; a sent ip wins.
func TestContextIPFromRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{handler: &HandlerOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	direct := setup(t, nil)
	send := func(b *testBundle, id string, ctx map[string]any, xff string) {
		msg := map[string]any{"type": "track", "anonymousId": "a1", "event": "E", "messageId": id}
		if ctx != nil {
			msg["context"] = ctx
		}
		req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/batch", bytes.NewReader(obj(map[string]any{"batch": []any{msg}})))
		require.NoError(t, err)
		req.SetBasicAuth(b.key, "")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
	}
	ipOf := func(b *testBundle, id string) string {
		var ip string
		require.NoError(t, b.db.QueryRow(`SELECT coalesce(context->>'ip', '') FROM interactions WHERE message_id = $1`, id).Scan(&ip))
		return ip
	}
	send(direct, "peer", nil, "")
	require.Equal(t, "127.0.0.0", ipOf(direct, "peer"), "the peer, truncated")
	send(direct, "forged", map[string]any{"library": map[string]any{"name": "x"}}, "198.51.100.77")
	require.Equal(t, "127.0.0.0", ipOf(direct, "forged"), "X-Forwarded-For from an untrusted peer is ignored")
	send(b, "proxied", nil, "198.51.100.77")
	require.Equal(t, "198.51.100.0", ipOf(b, "proxied"), "from a trusted proxy")
	send(b, "sent", map[string]any{"ip": "203.0.113.45"}, "198.51.100.77")
	require.Equal(t, "203.0.113.0", ipOf(b, "sent"), "the client's own wins")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE context::text LIKE '%198.51.100.77%'`), "never the full address")
}
