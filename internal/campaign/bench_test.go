package campaign

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
)

var benchAudience = flag.Int("campaign.audience", 100_000, "audience size of BenchmarkFirstSync")

// latencyDestination confirms every contact after a fixed delay per call.
type latencyDestination struct{ delay time.Duration }

func (d latencyDestination) Test(context.Context) error { return nil }
func (d latencyDestination) wait(ctx context.Context) error {
	select {
	case <-time.After(d.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (d latencyDestination) Upsert(ctx context.Context, _ []provider.Contact) (provider.Result, error) {
	return provider.Result{}, d.wait(ctx)
}
func (d latencyDestination) Remove(ctx context.Context, _ []string) (provider.Result, error) {
	return provider.Result{}, d.wait(ctx)
}
func (d latencyDestination) Erase(ctx context.Context, _ []string) (provider.Result, error) {
	return provider.Result{}, d.wait(ctx)
}

// BenchmarkFirstSync measures a first (full) sync of an audience of -campaign.audience members
// against a provider answering each call of 500 contacts after 0 or 50 ms.
//
//	go test -run '^$' -bench FirstSync -benchtime 1x ./internal/campaign/
func BenchmarkFirstSync(b *testing.B) {
	for _, delay := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s", delay), func(b *testing.B) {
			bd := setup(b)
			seg := bd.segment(b)
			_, err := bd.db.ExecContext(bd.ctx, `
				WITH c AS (
				  INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
				  SELECT gen_random_uuid(), now(), now(), jsonb_build_object('first_name', 'n' || i), '{}', 'c' || i || '@example.com', now(), now()
				  FROM generate_series(1, $2::int) i RETURNING id),
				k AS (INSERT INTO consents (id, customer_id, purpose, granted, recorded_at)
				  SELECT gen_random_uuid(), id, 'email_marketing', true, now() FROM c)
				INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) SELECT gen_random_uuid(), $1, id, now() FROM c`,
				seg, *benchAudience)
			require.NoError(b, err)
			_, err = bd.db.ExecContext(bd.ctx, `ANALYZE customers; ANALYZE consents; ANALYZE segment_memberships`)
			require.NoError(b, err)
			bd.dests.Open = func(string, map[string]any) (provider.Destination, error) { return latencyDestination{delay}, nil }
			bd.syncer.BatchSize = DefaultBatchSize
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := bd.campaign(b, seg, map[string]string{"FNAME": "trait:first_name"})
				b.StartTimer()
				start := time.Now()
				run, err := bd.syncer.Run(bd.ctx, c.ID, RunOptions{Trigger: TriggerManual})
				require.NoError(b, err)
				require.Equal(b, *benchAudience, run.Added)
				calls := (*benchAudience + DefaultBatchSize - 1) / DefaultBatchSize
				floor := time.Duration(calls) * delay / 10
				b.Logf("audience %d: %s (provider floor at 10 connections: %s)", *benchAudience, time.Since(start).Round(time.Millisecond), floor)
			}
		})
	}
}
