package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/ent/retentionpolicy"
	"github.com/cairn-cdp/cairn/internal/bench"
	"github.com/cairn-cdp/cairn/internal/privacy"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchRetentionCmd) }

type benchRetentionOptions struct {
	dbURL       string
	url         string
	key         string
	allowRemote bool
	rate        int
	keepDays    int
	baseline    time.Duration
	batch       int
}

func newBenchRetentionCmd() *cobra.Command {
	o := benchRetentionOptions{}
	cmd := &cobra.Command{
		Use:   "retention --key WRITE_KEY",
		Short: "Time a retention sweep while /v1/track runs, against the same load without it",
		Long: `Bench retention measures, in one run against a running cairn serve at --url on the database
at --database-url:

  1. baseline: single /v1/track events at --rate per second for --baseline, no sweep;
  2. sweep: the same load while a temporary delete policy (keep --keep-days) sweeps the
     interactions that occurred before it, in batches of --batch.

It prints the track p50/p99 of each phase and their ratio (target: sweep p99 ≤ 2× baseline p99),
and the sweep's rows/s. Seed the database first, e.g. with internal/rfm/testdata/bench_seed.sql
(events spread over 730 days, so --keep-days 365 deletes about half). The policy is deleted at
the end; the deleted interactions are not restored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.key == "" {
				return errors.New("--key (a write key with the ingest scope) is required")
			}
			if o.rate < 1 || o.rate > bench.MaxRate || o.keepDays < 1 || o.batch < 1 || o.batch > privacy.MaxRetentionBatch || o.baseline < time.Second {
				return fmt.Errorf("--rate must be 1..%d, --keep-days ≥ 1, --batch 1..%d, --baseline ≥ 1s", bench.MaxRate, privacy.MaxRetentionBatch)
			}
			if err := bench.CheckTarget(o.url, o.allowRemote); err != nil {
				return err
			}
			db, closeDB, err := benchDB(cmd, o.dbURL)
			if err != nil {
				return err
			}
			defer closeDB()
			return runBenchRetention(cmd.Context(), cmd.OutOrStdout(), privacy.NewRetention(db, nil), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dbURL, "database-url", "", "database the server uses (default $DATABASE_URL, else the local cluster)")
	f.StringVar(&o.url, "url", "http://localhost:8080", "running server (loopback only)")
	f.StringVar(&o.key, "key", os.Getenv("CAIRN_WRITE_KEY"), "write key, scope ingest (default $CAIRN_WRITE_KEY)")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow a --url that is not a loopback address")
	f.IntVar(&o.rate, "rate", 1000, "/v1/track events per second in both phases")
	f.IntVar(&o.keepDays, "keep-days", 365, "the temporary policy's keepDays")
	f.DurationVar(&o.baseline, "baseline", 30*time.Second, "length of the baseline phase")
	f.IntVar(&o.batch, "batch", privacy.MaxRetentionBatch, "interactions per sweep transaction")
	return cmd
}

func runBenchRetention(ctx context.Context, out io.Writer, ret *privacy.Retention, o benchRetentionOptions) error {
	load := bench.Options{URL: o.url, Key: o.key, AllowRemote: o.allowRemote, Rate: o.rate, Log: io.Discard}
	warm := func(ctx context.Context) { time.Sleep(2 * time.Second) } // let the load reach its rate

	base, err := bench.TrackWithProbe(ctx, load, func(ctx context.Context, _ bench.Poster) {
		warm(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(o.baseline):
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "baseline: %.0f track/s, p50 %s p99 %s (%d errors)\n", base.EventsPerSec(),
		base.Latency.P50.Round(time.Millisecond), base.Latency.P99.Round(time.Millisecond), base.Errors)

	p, err := ret.CreatePolicy(ctx, privacy.PolicyInput{
		Name: "bench retention " + uuid.NewString()[:8], KeepDays: o.keepDays, Action: retentionpolicy.ActionDelete,
	})
	if err != nil {
		return err
	}
	defer ret.DeletePolicy(context.WithoutCancel(ctx), p.ID) //nolint:errcheck // best effort
	var res *privacy.SweepResult
	var sweepErr error
	var sweepTime time.Duration
	during, err := bench.TrackWithProbe(ctx, load, func(ctx context.Context, _ bench.Poster) {
		warm(ctx)
		t0 := time.Now()
		res, sweepErr = ret.Sweep(ctx, &privacy.SweepOptions{BatchSize: o.batch, Policy: &p.ID})
		sweepTime = time.Since(t0)
	})
	if err != nil {
		return err
	}
	if sweepErr != nil {
		return sweepErr
	}
	ratio := float64(during.Latency.P99) / float64(max(base.Latency.P99, time.Microsecond))
	verdict := "ok"
	if ratio > 2 {
		verdict = "MISSED"
	}
	fmt.Fprintf(out, "during sweep: %.0f track/s, p50 %s p99 %s (%d errors); p99 ratio %.2f× (target ≤ 2×) %s\n",
		during.EventsPerSec(), during.Latency.P50.Round(time.Millisecond), during.Latency.P99.Round(time.Millisecond),
		during.Errors, ratio, verdict)
	var batches int
	for _, r := range res.Policies {
		batches += r.Batches
	}
	fmt.Fprintf(out, "sweep: %d rows deleted in %d batches, %s, %.0f rows/s; %d customers removed\n",
		res.Rows, batches, sweepTime.Round(time.Millisecond), float64(res.Rows)/sweepTime.Seconds(), res.CustomersRemoved)
	return nil
}
