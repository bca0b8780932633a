package provider_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
)

// BenchmarkMailchimpUpsert100k sends 100,000 contacts to a fake Mailchimp answering each call
// after 50 ms. The provider-bound floor is 200 upsert + 200 segment calls × 50 ms / 10
// connections = 2 s; floor_s and the measured s/op are reported side by side.
func BenchmarkMailchimpUpsert100k(b *testing.B) {
	const n, latency = 100_000, 50 * time.Millisecond
	cs := contacts(n, "bench")
	calls := 2 * (n / provider.MailchimpMaxBatch)
	floor := time.Duration(calls) * latency / provider.MailchimpMaxConns
	peak := 0
	for b.Loop() {
		b.StopTimer()
		f := providertest.NewMailchimp(b, &providertest.MailchimpOpts{Latency: latency})
		d, err := provider.New(provider.Config{Kind: provider.KindMailchimp, BaseURL: f.URL, APIKey: f.APIKey, ListID: f.ListID, AudienceName: "bench"}, provider.Options{AllowPrivate: true})
		require.NoError(b, err)
		b.StartTimer()
		res, err := d.Upsert(b.Context(), cs)
		require.NoError(b, err)
		require.Len(b, res.Confirmed, n)
		require.Zero(b, f.OverLimit())
		peak = max(peak, f.PeakConcurrent())
	}
	b.ReportMetric(float64(peak), "peak_conns")
	b.ReportMetric(floor.Seconds(), "floor_s")
}
