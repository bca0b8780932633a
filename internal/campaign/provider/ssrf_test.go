package provider_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
)

func TestSSRFConfiguredURLs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		url  string
	}{
		{"loopback v4", "https://127.0.0.1/h"},
		{"loopback v6", "https://[::1]/h"},
		{"localhost", "https://localhost:8443/h"},
		{"private 10/8", "https://10.1.2.3/h"},
		{"private 192.168", "https://192.168.0.10/h"},
		{"link-local metadata", "https://169.254.169.254/latest/meta-data"},
		{"ipv4-mapped loopback", "https://[::ffff:127.0.0.1]/h"},
		{"unspecified", "https://0.0.0.0/h"},
		{"carrier-grade NAT", "https://100.64.0.1/h"},
		{"unique local v6", "https://[fd00::1]/h"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, cfg := range []provider.Config{
				{Kind: provider.KindWebhook, URL: tc.url, Secret: "s"},
				{Kind: provider.KindMailchimp, BaseURL: tc.url, APIKey: "k-us6", ListID: "l", AudienceName: "a"},
				{Kind: provider.KindSendGrid, BaseURL: tc.url, APIKey: "k", ListID: "l"},
			} {
				_, err := provider.New(cfg, provider.Options{})
				var ce *provider.ConfigError
				require.ErrorAs(t, err, &ce, cfg.Kind)
				require.False(t, provider.IsTemporary(err))

				_, err = provider.New(cfg, provider.Options{AllowPrivate: true})
				require.NoError(t, err, "AllowPrivate lets it through")
			}
		})
	}
}

func TestSSRFRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	// A name that resolves to loopback (here: "localhost" reached through the guarded transport
	// directly, as a rebound DNS name would) is refused when dialled, not only when configured.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: provider.GuardedTransport(false)}
	for _, u := range []string{srv.URL, fmt.Sprintf("http://localhost:%d", srv.Listener.Addr().(*net.TCPAddr).Port)} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		require.NoError(t, err)
		_, err = client.Do(req)
		var be *provider.BlockedAddressError
		require.ErrorAs(t, err, &be, u)
	}

	allowed := &http.Client{Transport: provider.GuardedTransport(true)}
	resp, err := allowed.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
}

func TestSSRFGuardOnDestinationCalls(t *testing.T) {
	t.Parallel()
	// With the guard on and the fake's address passed through a caller-supplied guarded client,
	// the call fails as a permanent refusal, never reaching the fake.
	f := providertest.NewWebhook(t, nil)
	d, err := provider.New(
		provider.Config{Kind: provider.KindWebhook, URL: f.URL, Secret: f.Secret},
		provider.Options{AllowPrivate: true, HTTPClient: &http.Client{Transport: provider.GuardedTransport(false)}},
	)
	require.NoError(t, err)
	_, err = d.Upsert(t.Context(), contacts(1, "g"))
	var be *provider.BlockedAddressError
	require.ErrorAs(t, err, &be)
	require.False(t, provider.IsTemporary(err))
	require.Zero(t, f.Requests())
}
