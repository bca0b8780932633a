package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/seed"
)

func init() { extraCommands = append(extraCommands, newSeedCmd) }

func newSeedCmd() *cobra.Command {
	var (
		opts seed.Options
		now  string
	)
	cmd := &cobra.Command{
		Use:   "seed --customers N --events M [--seed S]",
		Short: "Fill the database with deterministic synthetic customers and events",
		Long: `Seed writes realistic synthetic data straight into PostgreSQL with COPY: customers who browse
anonymously and later identify, several devices per person, page views, product views, carts,
orders with revenue, email opens and clicks, traits and consents, over the last two years with
more activity recently. The same --seed (and --now) gives the same data.

Everything is one transaction: a failed or interrupted seed leaves nothing behind (only the
statistics refresh that follows the commit can fail after the data is in, and the error says
so). Into empty tables the load runs without secondary indexes, foreign keys and (where
nothing else refers to it) primary keys, and rebuilds them at the end; the tables are locked
meanwhile, so seed a database no server is writing to. Tables that already hold data keep
their indexes (slower); another --seed adds new people, the same --seed again collides and
changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if now != "" {
				t, err := time.Parse(time.RFC3339, now)
				if err != nil {
					return fmt.Errorf("invalid --now %q: use RFC 3339, e.g. 2026-01-31T00:00:00Z", now)
				}
				opts.Now = t
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			a, err := open(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(cmd.Context())) //nolint:errcheck
			out := cmd.ErrOrStderr()
			opts.Progress = seedProgress(out)
			res, err := seed.Run(cmd.Context(), a.DB, opts)
			if res == nil {
				return err
			}
			if err == nil {
				err = enqueueRecompute(cmd.Context(), a, out)
			}
			// With an error too when res is set: the seed is committed (only VACUUM or the
			// enqueueing after it failed).
			fmt.Fprintf(cmd.OutOrStdout(),
				"seeded %d customers, %d identities, %d consents, %d interactions in %s (load %s, %.0f events/s; indexes %s)\n",
				res.Customers, res.Identities, res.Consents, res.Interactions, res.Total.Round(time.Millisecond),
				res.Load.Round(time.Millisecond), float64(res.Interactions)/res.Load.Seconds(), res.Index.Round(time.Millisecond))
			fmt.Fprintf(out, "seed: time in COPY: customers %s, identities %s, consents %s, interactions %s; waiting for the generator %s\n",
				res.Copies["customers"].Round(time.Millisecond), res.Copies["identities"].Round(time.Millisecond),
				res.Copies["consents"].Round(time.Millisecond), res.Copies["interactions"].Round(time.Millisecond), res.Waits.Round(time.Millisecond))
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Customers, "customers", 10_000, "customers to create")
	f.IntVar(&opts.Events, "events", 100_000, "interactions to create in total")
	f.Uint64Var(&opts.Seed, "seed", 1, "random seed: the same seed gives the same data")
	f.StringVar(&now, "now", "", "end of the data window (RFC 3339); default: start of today, UTC")
	f.IntVar(&opts.ChunkCustomers, "chunk", 5000, "customers generated and copied together")
	f.BoolVar(&opts.KeepIndexes, "keep-indexes", false, "load with indexes in place even into empty tables (slower)")
	return cmd
}

// seedProgress prints a line per second of loading and one per rebuilt index.
func seedProgress(w io.Writer) func(seed.Progress) {
	var last time.Time
	return func(p seed.Progress) {
		switch p.Phase {
		case "load":
			done := p.Customers == p.TotalCustomers
			if !done && time.Since(last) < time.Second {
				return
			}
			last = time.Now()
			rate := float64(p.Events) / p.Elapsed.Seconds()
			eta := ""
			if p.Events > 0 && !done {
				left := time.Duration(float64(p.TotalEvents-p.Events) / rate * float64(time.Second))
				eta = ", ETA " + left.Round(time.Second).String()
			}
			fmt.Fprintf(w, "seed: %d/%d customers, %d/%d events, %.0f events/s%s\n",
				p.Customers, p.TotalCustomers, p.Events, p.TotalEvents, rate, eta)
		case "index":
			fmt.Fprintf(w, "seed: rebuilt %s\n", p.Detail)
		case "analyze":
			fmt.Fprintf(w, "seed: committed after %s; vacuuming and analyzing\n", p.Elapsed.Round(time.Millisecond))
		}
	}
}
