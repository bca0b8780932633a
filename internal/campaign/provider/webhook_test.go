package provider_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
)

func whSetup(t *testing.T, batch int, edit func(*provider.Config, *provider.Options)) (*providertest.Webhook, provider.Destination, *sleeper) {
	t.Helper()
	f := providertest.NewWebhook(t, &providertest.WebhookOpts{Now: func() time.Time { return fixedNow.Add(3 * time.Second) }})
	s := &sleeper{}
	cfg := provider.Config{Kind: provider.KindWebhook, URL: f.URL + "/hooks/cairn", Secret: f.Secret, BatchSize: batch}
	opts := testOpts(s)
	if edit != nil {
		edit(&cfg, &opts)
	}
	return f, newDest(t, cfg, opts), s
}

func TestWebhookBatchesAddedUpdatedRemovedErased(t *testing.T) {
	t.Parallel()
	f, d, _ := whSetup(t, 2, nil)
	cs := []provider.Contact{
		{Email: "a@example.com", Fields: map[string]string{"FNAME": "A"}},
		{Email: "b@example.com", Fields: map[string]string{"FNAME": "B"}, Existing: true},
		{Email: "c@example.com"},
	}
	res, err := d.Upsert(t.Context(), cs)
	require.NoError(t, err)
	require.ElementsMatch(t, emailsOf(cs), res.Confirmed)
	batches := f.Batches()
	require.Len(t, batches, 2)
	require.Equal(t, "camp-1", batches[0].Campaign)
	require.Equal(t, "sync-1", batches[0].Sync)
	require.Equal(t, []provider.WebhookContact{{Email: "a@example.com", Fields: map[string]string{"FNAME": "A"}}}, batches[0].Added)
	require.Equal(t, []provider.WebhookContact{{Email: "b@example.com", Fields: map[string]string{"FNAME": "B"}}}, batches[0].Updated)
	require.Equal(t, []provider.WebhookContact{{Email: "c@example.com"}}, batches[1].Added)
	require.NotNil(t, batches[1].Updated)
	require.NotNil(t, batches[1].Removed)
	require.NotEmpty(t, batches[0].Batch)
	require.Equal(t, []string{"a@example.com", "b@example.com", "c@example.com"}, f.Members())

	res, err = d.Remove(t.Context(), []string{"a@example.com"})
	require.NoError(t, err)
	require.Equal(t, []string{"a@example.com"}, res.Confirmed)
	res, err = d.Erase(t.Context(), []string{"b@example.com"})
	require.NoError(t, err)
	require.Equal(t, []string{"b@example.com"}, res.Confirmed)
	require.Equal(t, []string{"c@example.com"}, f.Members())
	require.Equal(t, []string{"b@example.com"}, f.Erased())
	require.NoError(t, d.Test(t.Context()))
	require.Zero(t, f.BadSignatures())
}

func TestWebhookRetriesAndRefusals(t *testing.T) {
	t.Parallel()
	t.Run("5xx retried, re-signed, applied once", func(t *testing.T) {
		t.Parallel()
		f, d, s := whSetup(t, 0, nil)
		f.FailNext(2, 502)
		res, err := d.Upsert(t.Context(), contacts(3, "w"))
		require.NoError(t, err)
		require.Len(t, res.Confirmed, 3)
		require.Equal(t, 3, f.Requests())
		require.Len(t, s.all(), 2)
		require.Len(t, f.Batches(), 1)
	})
	t.Run("wrong secret is a 401, not retried", func(t *testing.T) {
		t.Parallel()
		f, d, _ := whSetup(t, 0, func(c *provider.Config, _ *provider.Options) { c.Secret = "not-the-secret" })
		res, err := d.Upsert(t.Context(), contacts(3, "w"))
		var ae *provider.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 401, ae.Status)
		require.Empty(t, res.Confirmed)
		require.Equal(t, 1, f.Requests())
		require.Equal(t, 1, f.BadSignatures())
		require.Empty(t, f.Members())
	})
	t.Run("stale clock is refused by the receiver", func(t *testing.T) {
		t.Parallel()
		f, d, _ := whSetup(t, 0, func(_ *provider.Config, o *provider.Options) {
			o.Now = func() time.Time { return fixedNow.Add(-time.Hour) }
		})
		_, err := d.Upsert(t.Context(), contacts(1, "w"))
		require.Error(t, err)
		require.Equal(t, 1, f.BadSignatures())
	})
	t.Run("config", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			cfg   provider.Config
			field string
		}{
			{"no url", provider.Config{Kind: provider.KindWebhook, Secret: "s"}, "url"},
			{"no secret", provider.Config{Kind: provider.KindWebhook, URL: "https://example.com/h"}, "secret"},
			{"ftp", provider.Config{Kind: provider.KindWebhook, URL: "ftp://example.com/h", Secret: "s"}, "url"},
			{"credentials in url", provider.Config{Kind: provider.KindWebhook, URL: "https://u:p@example.com/h", Secret: "s"}, "url"},
			{"batch too large", provider.Config{Kind: provider.KindWebhook, URL: "https://example.com/h", Secret: "s", BatchSize: 10001}, "batchSize"},
		} {
			_, err := provider.New(tc.cfg, provider.Options{})
			var ce *provider.ConfigError
			require.ErrorAs(t, err, &ce, tc.name)
			require.Equal(t, tc.field, ce.Field, tc.name)
		}
	})
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	body := []byte(`{"campaign":"c","added":[]}`)
	now := fixedNow
	valid := provider.SignWebhook("sekrit", now, body)
	rotated := provider.SignWebhook("old", now, body) + ",v1=" + valid[len("t=1796385600,v1="):]
	cases := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{name: "valid", secret: "sekrit", header: valid, body: body, now: now},
		{name: "valid within tolerance", secret: "sekrit", header: valid, body: body, now: now.Add(4 * time.Minute)},
		{name: "second v1 during rotation", secret: "sekrit", header: rotated, body: body, now: now},
		{name: "replayed later", secret: "sekrit", header: valid, body: body, now: now.Add(6 * time.Minute), want: provider.ErrSignatureExpired},
		{name: "from the future", secret: "sekrit", header: valid, body: body, now: now.Add(-6 * time.Minute), want: provider.ErrSignatureExpired},
		{name: "altered body", secret: "sekrit", header: valid, body: []byte(`{"campaign":"d","added":[]}`), now: now, want: provider.ErrSignatureMismatch},
		{name: "wrong secret", secret: "other", header: valid, body: body, now: now, want: provider.ErrSignatureMismatch},
		{name: "timestamp altered", secret: "sekrit", header: "t=1796385601" + valid[len("t=1796385600"):], body: body, now: now, want: provider.ErrSignatureMismatch},
		{name: "empty", secret: "sekrit", header: "", body: body, now: now, want: provider.ErrSignatureMissing},
		{name: "no v1", secret: "sekrit", header: "t=1796385600", body: body, now: now, want: provider.ErrSignatureMissing},
		{name: "bad hex", secret: "sekrit", header: "t=1796385600,v1=zz", body: body, now: now, want: provider.ErrSignatureMissing},
	}
	require.Contains(t, valid, "t=1796385600,v1=")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := provider.VerifyWebhook(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}
