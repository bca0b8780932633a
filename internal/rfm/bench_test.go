package rfm_test

import (
	"database/sql"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/rfm"
)

// BenchmarkCompute times a computation over 2,000 generated customers (~6,000 orders), in a
// fresh test database. The first iteration writes every scored customer; later ones find
// nothing changed, so this mostly measures the scoring query. For the 1M-customer figure see
// BenchmarkComputeSeeded.
func BenchmarkCompute(b *testing.B) {
	bundle := setup(b)
	rng := rand.New(rand.NewPCG(7, 8))
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	bundle.insert(b, rng, generate(rng, 2000, now, rfm.DefaultWindow))

	b.ResetTimer()
	for b.Loop() {
		_, err := bundle.scorer.Compute(bundle.ctx, &rfm.ComputeOpts{Now: now})
		require.NoError(b, err)
	}
}

// BenchmarkComputeSeeded times Compute against an already seeded database named by
// CAIRN_RFM_BENCH_URL (see testdata/bench_seed.sql); skipped without it. Each iteration clears
// the stored RFM first (untimed) so it measures a cold first computation that writes every
// scored customer, the worst case; -benchtime=1x is enough.
//
//	CAIRN_RFM_BENCH_URL=postgres://cairn@127.0.0.1:5499/scratch_rfm?sslmode=disable \
//	  go test ./internal/rfm -run '^$' -bench ComputeSeeded -benchtime=1x -v
func BenchmarkComputeSeeded(b *testing.B) {
	url := os.Getenv("CAIRN_RFM_BENCH_URL")
	if url == "" {
		b.Skip("CAIRN_RFM_BENCH_URL not set")
	}
	db, err := sql.Open("postgres", url)
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	s := rfm.New(db)
	ctx := b.Context()

	for b.Loop() {
		b.StopTimer()
		_, err := db.ExecContext(ctx, `UPDATE customers SET rfm_recency = NULL, rfm_frequency = NULL, rfm_monetary = NULL,
			rfm_recency_score = NULL, rfm_frequency_score = NULL, rfm_monetary_score = NULL, rfm_score = NULL,
			rfm_label = NULL, rfm_computed_at = NULL WHERE rfm_label IS NOT NULL`)
		require.NoError(b, err)
		_, err = db.ExecContext(ctx, `VACUUM customers`)
		require.NoError(b, err)
		b.StartTimer()

		res, err := s.Compute(ctx, nil)
		require.NoError(b, err)
		b.StopTimer()
		b.Logf("cold: %+v", *res)
		// The steady state: an hour later, only customers whose recency crossed a day change.
		res, err = s.Compute(ctx, &rfm.ComputeOpts{Now: res.Now.Add(time.Hour)})
		require.NoError(b, err)
		b.Logf("an hour later: %+v", *res)
		b.StartTimer()
	}
}
