package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/bench"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchReadsCmd) }

func newBenchReadsCmd() *cobra.Command {
	var (
		opts        bench.ReadsOptions
		databaseURL string
		segment     string
	)
	cmd := &cobra.Command{
		Use:   "reads [--url http://localhost:8080 --key READ_KEY]",
		Short: "Time GraphQL profile and list reads against hand-written SQL behind a bare handler",
		Long: `Bench reads times three reads with --clients closed-loop clients over random data:

  profile    customer(id) with its identities and its 20 newest interactions (and their count)
  customers  customers(first: 50) seen before a random time, newest first
  members    segment.members(first: 50) after a random member

Each is timed over the server's GraphQL API and, alternating in the same run, against its
hand-written baseline: one SQL statement building the same JSON (json_build_object and
subqueries) behind a bare net/http handler in this process. It prints requests/s, p50/p99 and
the ratio GraphQL / baseline per read, and the CPU time per request of the PostgreSQL backends
(when PostgreSQL runs on this machine) and of the --url server (given --server-pid): on a
shared machine these vary far less from run to run than requests/s.

With --url and --key it measures that running server (loopback only unless --allow-remote),
which must use the database at --database-url and must not rate-limit the key: start it with
CAIRN_GRAPHQL_RATE=off (the bench stops on HTTP 429). Without --url it starts a server in this
process on that database, without a rate limit, with a temporary read key revoked at the end. Seed the database first
(cairn seed --customers 100000 --events 1000000). Without --segment, the members read uses a
temporary segment of about a fifth of the customers, deleted at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			opts.Log = cmd.ErrOrStderr()
			if segment != "" {
				id, err := uuid.Parse(segment)
				if err != nil {
					return fmt.Errorf("invalid --segment %q: %w", segment, err)
				}
				opts.SegmentID = id
			}
			startServer := opts.URL == ""
			if startServer {
				opts.URL, opts.Key = "http://127.0.0.1:1", "placeholder" // validated, then replaced
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			db, closeDB, err := benchDB(cmd, databaseURL)
			if err != nil {
				return err
			}
			defer closeDB()
			opts.DB = db
			if startServer {
				stop, url, key, err := startBenchServer(ctx, db)
				if err != nil {
					return err
				}
				defer stop()
				opts.URL, opts.Key = url, key
			}
			res, err := bench.RunReads(ctx, opts)
			printReadsReport(cmd.OutOrStdout(), opts, res)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", "", "base URL of a running server (default: start one in this process)")
	f.StringVar(&opts.Key, "key", os.Getenv("CAIRN_READ_KEY"), "API key with the read scope for --url (default $CAIRN_READ_KEY)")
	f.BoolVar(&opts.AllowRemote, "allow-remote", false, "allow a --url that is not a loopback address")
	f.StringVar(&databaseURL, "database-url", "", "the server's database (default $DATABASE_URL, else the local cluster)")
	f.IntVar(&opts.Clients, "clients", 32, "closed-loop clients")
	f.DurationVar(&opts.Phase, "phase", 5*time.Second, "length of one phase of one side")
	f.IntVar(&opts.Rounds, "rounds", 3, "alternations of GraphQL and baseline per read")
	f.StringSliceVar(&opts.Cases, "reads", bench.ReadCases, "reads to time")
	f.StringVar(&segment, "segment", "", "segment id for the members read (default: a temporary segment)")
	f.Uint64Var(&opts.Seed, "seed", 1, "randomness of the ids asked for")
	f.IntVar(&opts.ServerPID, "server-pid", 0, "process id of the --url server, to report its CPU time per request")
	return cmd
}

// startBenchServer serves Cairn's HTTP API on a loopback port in this process, with a new read
// key; stop shuts it down and revokes the key.
func startBenchServer(ctx context.Context, db *sql.DB) (stop func(), url, key string, err error) {
	log := slog.New(slog.DiscardHandler)
	client := txn.NewClient(db)
	keys := auth.NewKeys(db, log)
	created, err := keys.Create(ctx, "cairn bench reads", []auth.Scope{auth.ScopeRead})
	if err != nil {
		return nil, "", "", err
	}
	// No per-key rate limit: the bench's clients send as fast as the server answers.
	srv := server.New(server.Config{DB: db, Keys: keys, Log: log, GraphQLRate: server.RateLimit{Rate: rate.Inf},
		Resolver: &graph.Resolver{DB: db, Client: client, Keys: keys, Log: log}})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx, "127.0.0.1:0", 5*time.Second, func(a net.Addr) { addr <- a }) }()
	select {
	case a := <-addr:
		url = "http://" + a.String()
	case err := <-done:
		cancel()
		return nil, "", "", err
	}
	stop = func() {
		cancel()
		<-done
		_, _ = keys.Revoke(context.WithoutCancel(ctx), created.Key.ID)
	}
	return stop, url, created.Secret, nil
}

func printReadsReport(w io.Writer, opts bench.ReadsOptions, res []bench.ReadResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "read (%d clients)\tside\trequests\terrors\treq/s\tp50\tp99\tmax\tserver CPU/req\tPostgreSQL CPU/req\t\n", opts.Clients)
	for _, r := range res {
		for _, side := range []struct {
			name string
			p    bench.ClosedLoop
		}{{"GraphQL", r.GraphQL}, {"baseline", r.Baseline}} {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, side.name, side.p.Requests, side.p.Errors,
				side.p.PerSec(), fmtLatency(side.p.Latency.P50), fmtLatency(side.p.Latency.P99), fmtLatency(side.p.Latency.Max),
				fmtCPU(side.p.ServerCPUPerRequest()), fmtCPU(side.p.DBCPUPerRequest()))
		}
	}
	tw.Flush()
	targets := map[string]string{"profile": "≥ 0.65, p99 ≤ 40 ms", "customers": "≥ 0.60", "members": "≥ 0.60"}
	for _, r := range res {
		fmt.Fprintf(w, "%s: GraphQL / baseline = %.2f (issue 16 target: %s)\n", r.Name, r.Ratio(), targets[r.Name])
		for _, p := range []bench.ClosedLoop{r.GraphQL, r.Baseline} {
			if p.FirstError != "" {
				fmt.Fprintf(w, "%s: first error: %s\n", r.Name, p.FirstError)
			}
		}
	}
}
