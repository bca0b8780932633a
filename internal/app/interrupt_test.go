package app

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInterruptedMigrationStopsLocalPostgres: Ctrl-C (the command's context cancelled) while
// start-up migrations run must not leave the local PostgreSQL that Open started running.
func TestInterruptedMigrationStopsLocalPostgres(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pg", "data", "postmaster.pid")
	t.Cleanup(func() { // a failed run must not leak the server either
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil {
				_ = syscall.Kill(pid, syscall.SIGQUIT)
			}
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{DataDir: dir}
	var running bool
	opts := OpenOptions{Migrate: true, migrating: func() {
		_, err := os.Stat(pidFile)
		running = err == nil
		cancel() // the signal arrives as the migrations start
	}}
	a, err := Open(ctx, cfg, slog.New(slog.DiscardHandler), opts)
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, a)
	require.True(t, running, "the local cluster was up when migrations began")
	_, err = os.Stat(pidFile)
	require.ErrorIs(t, err, fs.ErrNotExist, "postgres must be stopped: postmaster.pid is still there")
}
