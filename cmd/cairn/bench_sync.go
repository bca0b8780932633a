package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/campaign/campaignbench"
	"github.com/cairn-cdp/cairn/internal/segment"
	"github.com/cairn-cdp/cairn/internal/txn"
	"github.com/cairn-cdp/cairn/jobs"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchSyncCmd) }

func newBenchSyncCmd() *cobra.Command {
	var (
		o     campaignbench.Options
		dbURL string
	)
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Time a campaign's first sync, a membership change and the tracking endpoints against a fake Mailchimp",
		Long: `Bench sync runs, in process against a fake Mailchimp answering each call after --latency
with --conns connections (Mailchimp's per-account limit):

  1. the first sync of an --audience member campaign, printed beside its provider-bound floor
     (the calls it made × latency / connections) and the ratio (target ≤ 1.5×);
  2. --change customers entering the segment: a full segment computation schedules the delta
     sync on River, in-process workers run it; the time from the computation's commit until the
     fake holds all of them (target ≤ 5 s);
  3. /t/o and /t/c through a real ingest pipeline at --track-rate requests/s for
     --track-duration: p50, p99 (target ≤ 20 ms) and max.

It writes bench customers (emails @bench-sync.invalid), a segment, a destination and a campaign
into the database at --database-url (or DATABASE_URL, or the local data directory), and its
workers run any job queued there: use a bench database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Audience < 1 || o.Audience > 5_000_000 || o.Change < 1 || o.Change > 100_000 || o.TrackRate < 1 || o.TrackRate > 10_000 {
				return fmt.Errorf("--audience (1 to 5,000,000), --change (1 to 100,000) and --track-rate (1 to 10,000) are out of range")
			}
			db, closeDB, err := benchDB(cmd, dbURL)
			if err != nil {
				return err
			}
			defer closeDB()
			o.DB, o.Log = db, cmd.ErrOrStderr()
			o.Workers = benchSyncWorkers(db, cmd.ErrOrStderr())
			rep, err := campaignbench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "first sync   %d members, %d calls: %s  floor %s  ratio %.2f×\n", rep.Added, rep.Calls,
				rep.FirstSync.Round(time.Millisecond), rep.Floor.Round(time.Millisecond), rep.Ratio())
			fmt.Fprintf(w, "change       %d entering: %s from commit to the fake (%d calls)\n", rep.Change,
				rep.ChangeLatency.Round(time.Millisecond), rep.ChangeCalls)
			if t := rep.Track; t != nil {
				fmt.Fprintf(w, "tracking     %d req/s × %d (%d recording workers): p50 %s  p99 %s  max %s  errors %d  stored %d (%d opens, %d clicks)\n",
					t.Rate, t.Requests, t.Workers, fmtLatency(t.P50), fmtLatency(t.P99), fmtLatency(t.Max), t.Errors, t.Stored, t.Opens, t.Clicks)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL of a bench database (default DATABASE_URL, else the local data directory)")
	f.IntVar(&o.Audience, "audience", 100_000, "members of the first sync")
	f.DurationVar(&o.Latency, "latency", 50*time.Millisecond, "the fake provider's latency per call")
	f.IntVar(&o.Conns, "conns", 10, "the fake provider's connection limit (and the client's)")
	f.IntVar(&o.Concurrency, "concurrency", 0, "engine calls in flight (0: the engine's default)")
	f.IntVar(&o.Change, "change", 1000, "customers entering the segment in the change phase")
	f.IntVar(&o.TrackRate, "track-rate", 1000, "tracking requests per second")
	f.IntVar(&o.TrackWorkers, "track-workers", 32, "workers recording tracking events after the answer, as serve runs (-1: record before answering)")
	f.DurationVar(&o.TrackFor, "track-duration", 5*time.Second, "length of the tracking phase")
	return cmd
}

// benchSyncWorkers runs River workers in process for the bench's delta syncs.
func benchSyncWorkers(db *sql.DB, logTo io.Writer) func(context.Context, *campaign.Destinations, *campaign.Tracking) (segment.Scheduler, func(), error) {
	return func(ctx context.Context, dests *campaign.Destinations, tracking *campaign.Tracking) (segment.Scheduler, func(), error) {
		log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
		rc, _, err := jobs.NewClient(jobs.Deps{DB: db, Client: txn.NewClient(db), Log: log, Destinations: dests, Tracking: tracking},
			jobs.Options{RunWorkers: true, MaxWorkers: 4})
		if err != nil {
			return nil, nil, err
		}
		if err := rc.Start(ctx); err != nil {
			return nil, nil, err
		}
		stop := func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = rc.Stop(sctx)
		}
		return jobs.SegmentScheduler{Client: rc}, stop, nil
	}
}
