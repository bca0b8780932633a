package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/internal/bench"
)

func init() {
	extraCommands = append(extraCommands, newBenchCmd)
	benchSubcommands = append(benchSubcommands, newBenchIngestCmd)
}

// benchSubcommands lets each benchmark register itself under `cairn bench` from its own file
// (`func init() { benchSubcommands = append(benchSubcommands, newBenchXxxCmd) }`).
var benchSubcommands []func() *cobra.Command

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Cairn on this machine",
	}
	for _, sub := range benchSubcommands {
		cmd.AddCommand(sub())
	}
	return cmd
}

func newBenchIngestCmd() *cobra.Command {
	var (
		opts        bench.Options
		databaseURL string
		noCopy      bool
	)
	cmd := &cobra.Command{
		Use:   "ingest --key WRITE_KEY [--url http://localhost:8080]",
		Short: "Benchmark the tracking API of a running server against a raw COPY",
		Long: `Bench ingest drives a running server's tracking API in two phases, then measures the
database alone:

  1. batch: --clients concurrent clients send /v1/batch requests of --batch Segment messages
     (anonymous browsing, identified events, identifies with traits.email, server-side events)
     for --duration or until --events have been acknowledged;
  2. track: single /v1/track events at --rate requests/s for --track-duration;
  3. copy: a raw COPY of --copy-rows equivalent rows (same columns and indexes as interactions)
     into a scratch table in the database at --database-url, dropped afterwards.

It prints events/s and p50/p99 acknowledgement latency per phase, and the batch/COPY ratio.
Load goes only to --url, which must be a loopback address unless --allow-remote is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			opts.Log = cmd.ErrOrStderr()
			if cmd.Flags().Changed("events") && !cmd.Flags().Changed("duration") {
				opts.Duration = bench.MaxDuration // --events alone: run until they are acknowledged
			}
			if err := opts.Validate(); err != nil {
				return err // before opening (or starting) a database
			}
			if !noCopy {
				db, closeDB, err := benchDB(cmd, databaseURL)
				if err != nil {
					return err
				}
				defer closeDB()
				opts.DB = db
			}
			rep, err := bench.Run(ctx, opts)
			if rep != nil {
				printBenchReport(cmd.OutOrStdout(), rep)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", "http://localhost:8080", "base URL of the server")
	f.StringVar(&opts.Key, "key", os.Getenv("CAIRN_WRITE_KEY"), "write key with the ingest scope (default $CAIRN_WRITE_KEY)")
	f.BoolVar(&opts.AllowRemote, "allow-remote", false, "allow a --url that is not a loopback address")
	f.IntVar(&opts.Clients, "clients", 8, "concurrent /v1/batch clients")
	f.IntVar(&opts.Batch, "batch", 100, "messages per /v1/batch request")
	f.DurationVar(&opts.Duration, "duration", 20*time.Second, "length of the batch phase (at most 10m; with --events alone, up to 10m)")
	f.IntVar(&opts.Events, "events", 0, "stop the batch phase after this many events (0: --duration only)")
	f.IntVar(&opts.Rate, "rate", 1000, "/v1/track requests per second (negative: skip the phase)")
	f.DurationVar(&opts.TrackDuration, "track-duration", 10*time.Second, "length of the /v1/track phase")
	f.IntVar(&opts.People, "people", 20_000, "simulated people the events are about")
	f.Uint64Var(&opts.Seed, "seed", 0, "payload randomness (0: random, so every run brings new people)")
	f.StringVar(&databaseURL, "database-url", "", "database for the COPY baseline (default $DATABASE_URL, else the local cluster)")
	f.IntVar(&opts.CopyRows, "copy-rows", 300_000, "rows in the COPY baseline")
	f.BoolVar(&noCopy, "no-copy", false, "skip the COPY baseline")
	f.BoolVar(&opts.SkipHTTP, "copy-only", false, "run only the COPY baseline")
	cmd.MarkFlagsMutuallyExclusive("no-copy", "copy-only")
	return cmd
}

// benchDB opens the database a benchmark measures: databaseURL, else $DATABASE_URL, else the
// local cluster (started if need be).
func benchDB(cmd *cobra.Command, databaseURL string) (*sql.DB, func(), error) {
	if databaseURL == "" {
		databaseURL = os.Getenv("DATABASE_URL")
	}
	if databaseURL != "" {
		db, err := app.OpenDB(cmd.Context(), databaseURL)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	a, err := open(cmd, false)
	if err != nil {
		return nil, nil, err
	}
	return a.DB, func() { a.Close(context.WithoutCancel(cmd.Context())) }, nil //nolint:errcheck
}

func printBenchReport(w io.Writer, rep *bench.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\tevents\terrors\tevents/s\tp50\tp99\tmax\tCPU/event\tcores busy\t")
	for _, p := range []*bench.Phase{rep.Batch, rep.Track} {
		if p == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", p.Name, p.Requests, p.Events, p.Errors, p.EventsPerSec(),
			fmtLatency(p.Latency.P50), fmtLatency(p.Latency.P99), fmtLatency(p.Latency.Max), fmtCPU(p.CPUPerEvent()), fmtCores(p.Cores(), rep.Cores))
	}
	if c := rep.Copy; c != nil {
		fmt.Fprintf(tw, "raw COPY (%.0f B/row)\t-\t%d\t-\t%.0f\t-\t-\t-\t%s\t%s\t\n", c.RowBytes, c.Rows, c.RowsPerSec(), fmtCPU(c.CPUPerRow()), fmtCores(c.Cores(), rep.Cores))
	}
	tw.Flush()
	for _, p := range []*bench.Phase{rep.Batch, rep.Track} {
		if p != nil && p.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", p.Name, p.FirstError)
		}
	}
	if r := rep.Ratio(); r > 0 {
		fmt.Fprintf(w, "batch ingest / raw COPY = %.2f (issue 3 target: ≥ 0.50)\n", r)
	}
	if r := rep.FullCPURatio(); r > 0 {
		fmt.Fprintf(w, "with all %d cores busy at this CPU/event, batch ingest / raw COPY would be %.2f\n", rep.Cores, r)
	}
	if rep.Batch != nil && rep.Batch.CPU > 0 {
		fmt.Fprintln(w, "CPU/event: the whole machine's busy CPU time during the phase over its events (server, PostgreSQL and this client, when they share the machine); steadier than events/s from run to run")
	}
}

// fmtCores is the average busy cores over the machine's ("1.47/2"), or "-" when unknown.
func fmtCores(busy float64, cores int) string {
	if busy <= 0 || cores <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f/%d", busy, cores)
}

func fmtCPU(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", float64(d.Nanoseconds())/1000)
}

func fmtLatency(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
