// Command cairn is the Cairn customer data platform: `cairn serve` runs the API and the workers,
// `cairn worker` only the workers, and the other commands manage keys, migrations and data
// (`keys`, `migrate`, `import`, `seed`) and measure performance (`bench`).
//
// It is the one place where the parts are wired together: serve.go builds the River client
// with the jobs/ workers, the GraphQL resolver, the ingest pipeline and the HTTP server.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/app"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		code := 1
		var ee exitError
		if errors.As(err, &ee) {
			code = int(ee)
		}
		stop()
		os.Exit(code)
	}
}

// defaultGCPercent is Go's GOGC for cairn when the environment does not set one. Cairn's
// request path allocates a lot of short-lived memory (decoded payloads, statement arguments)
// over a small live heap (the identity cache: ~150 MB resident under `cairn bench ingest`), so
// the default 100 spent about a fifth of the server's CPU in the collector; 400 trades some
// resident memory for it: 12.7k -> 14.6k events/s in the same session.
const defaultGCPercent = 400

// tuneGC sets defaultGCPercent unless GOGC is set (GOMEMLIMIT applies either way).
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// exitError carries a specific exit status.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "cairn",
		Short: "Cairn: a self-hosted customer data platform",
		Long: `Cairn collects what customers do, resolves their identifiers into one profile, serves
unified profiles over GraphQL, and keeps segments and RFM scores fresh.

Configuration comes from the environment: DATABASE_URL (unset: a private local PostgreSQL under
./.cairn/pg), CAIRN_ADDR, CAIRN_SECRET_KEY, CAIRN_LOG_FORMAT, CAIRN_LOG_LEVEL, CAIRN_DATA_DIR.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(),
		newWorkerCmd(),
		newMigrateCmd(),
		newKeysCmd(),
	)
	for _, extra := range extraCommands {
		root.AddCommand(extra())
	}
	return root
}

// extraCommands lets each command file register itself (import, seed, bench).
var extraCommands []func() *cobra.Command

// open loads the configuration and opens the app for a command.
func open(cmd *cobra.Command, migrate bool) (*app.App, error) {
	cfg := app.FromEnv()
	log, err := cfg.NewLogger(cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	return app.Open(cmd.Context(), cfg, log, app.OpenOptions{Migrate: migrate})
}
