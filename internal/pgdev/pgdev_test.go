package pgdev

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fastConfig trades durability for speed, as package testdb does.
var fastConfig = map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

type testBundle struct {
	ctx  context.Context
	dir  string
	opts Options
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	dir := t.TempDir()
	return &testBundle{
		ctx:  t.Context(),
		dir:  dir,
		opts: Options{Dir: dir, ExtraConfig: fastConfig},
	}
}

// start starts a cluster and stops it at cleanup (a no-op when not owned).
func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Stop(ctx))
	})
	return c
}

func query(t *testing.T, url, q string) string {
	t.Helper()
	db, err := sql.Open("postgres", url)
	require.NoError(t, err)
	defer db.Close()
	var s string
	require.NoError(t, db.QueryRowContext(t.Context(), q).Scan(&s))
	return s
}

func TestFindBinaries(t *testing.T) {
	t.Parallel()

	dir, err := FindBinaries()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "initdb"))
	require.FileExists(t, filepath.Join(dir, "pg_ctl"))
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	bundle.opts.ExtraConfig = nil // defaults: fsync on

	began := time.Now()
	c := start(t, bundle.opts)
	t.Logf("cold start (initdb + start): %s", time.Since(began))
	require.True(t, c.Owned())
	require.Equal(t, "cairn cairn", query(t, c.URL(), `SELECT current_database() || ' ' || current_user`))
	require.Contains(t, c.URLFor("postgres"), "/postgres?sslmode=disable")

	fi, err := os.Stat(filepath.Join(bundle.dir, "password"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// TCP requires the password.
	wrong := strings.Replace(c.URL(), c.password, "wrong", 1)
	db, err := sql.Open("postgres", wrong)
	require.NoError(t, err)
	defer db.Close()
	require.ErrorContains(t, db.PingContext(bundle.ctx), "password authentication failed")

	url := c.URL()
	require.NoError(t, c.Stop(bundle.ctx))
	require.False(t, c.Owned())
	require.NoFileExists(t, filepath.Join(bundle.dir, "data", "postmaster.pid"))
	require.NoError(t, c.Stop(bundle.ctx), "second Stop is a no-op")
	db2, err := sql.Open("postgres", url)
	require.NoError(t, err)
	defer db2.Close()
	require.Error(t, db2.PingContext(bundle.ctx))

	began = time.Now()
	c2 := start(t, bundle.opts)
	t.Logf("warm start (initialised, stopped): %s", time.Since(began))
	require.True(t, c2.Owned())
	require.Equal(t, c.password, c2.password, "restart keeps the password")
	require.Equal(t, "1", query(t, c2.URL(), `SELECT 1::text`))
}

func TestStartConnectsToRunningCluster(t *testing.T) {
	t.Parallel()
	bundle := setup(t)

	first := start(t, bundle.opts)
	began := time.Now()
	second := start(t, Options{Dir: bundle.dir})
	t.Logf("connect to running cluster: %s", time.Since(began))

	require.True(t, first.Owned())
	require.False(t, second.Owned())
	require.Equal(t, first.URL(), second.URL())
	require.Equal(t, "cairn", query(t, second.URL(), `SELECT current_database()::text`))

	require.NoError(t, second.Stop(bundle.ctx))
	require.Equal(t, "cairn", query(t, first.URL(), `SELECT current_database()::text`), "non-owned Stop leaves it running")
}

func TestStartRecoversStalePostmasterPID(t *testing.T) {
	t.Parallel()

	deadPID := func(t *testing.T, _ *Cluster) int {
		cmd := exec.Command("true")
		require.NoError(t, cmd.Run())
		return cmd.ProcessState.Pid()
	}

	tests := []struct {
		name string
		// stale leaves a stopped or killed cluster and returns the PID to
		// write into postmaster.pid (0: leave the file as it is).
		stale func(t *testing.T, c *Cluster) int
	}{
		{name: "DeadPID", stale: func(t *testing.T, c *Cluster) int {
			require.NoError(t, c.Stop(t.Context()))
			return deadPID(t, c)
		}},
		{name: "LiveNonPostgresPID", stale: func(t *testing.T, c *Cluster) int {
			require.NoError(t, c.Stop(t.Context()))
			return os.Getpid()
		}},
		{name: "KilledPostmaster", stale: func(t *testing.T, c *Cluster) int {
			pid, _, running, err := c.runningPostmaster()
			require.NoError(t, err)
			require.True(t, running)
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			require.Eventually(t, func() bool { return !isPostmaster(pid, c.dataDir) }, 10*time.Second, 10*time.Millisecond)
			return 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bundle := setup(t)

			c, err := Start(bundle.ctx, bundle.opts)
			require.NoError(t, err)
			pidFile := filepath.Join(bundle.dir, "data", "postmaster.pid")

			if pid := tt.stale(t, c); pid != 0 {
				content := fmt.Sprintf("%d\n%s\n%d\n%d\n%s\n127.0.0.1\n  5432001    32769\nready   \n",
					pid, c.dataDir, time.Now().Unix(), c.port, c.runDir)
				require.NoError(t, os.WriteFile(pidFile, []byte(content), 0o600))
			}
			require.FileExists(t, pidFile)

			c2 := start(t, bundle.opts)
			require.True(t, c2.Owned())
			require.Equal(t, "1", query(t, c2.URL(), `SELECT 1::text`))
		})
	}
}

func TestStartReportsServerLog(t *testing.T) {
	t.Parallel()
	bundle := setup(t)

	_, err := Start(bundle.ctx, Options{Dir: bundle.dir, ExtraConfig: map[string]string{"no_such_setting": "1"}})
	require.ErrorContains(t, err, "error starting postgres")
	require.ErrorContains(t, err, `unrecognized configuration parameter "no_such_setting"`, "the log tail explains why")

	_, err = Start(bundle.ctx, Options{Dir: bundle.dir, ExtraConfig: map[string]string{"bad name": "1"}})
	require.ErrorContains(t, err, "invalid server setting name")

	c := start(t, bundle.opts)
	require.True(t, c.Owned(), "a failed start leaves nothing in the way")
}

// helperDirEnv makes the test binary act as a separate cairn process that
// calls Start on a directory, prints the outcome, waits for its stdin to close
// and exits without stopping the cluster.
const helperDirEnv = "PGDEV_TEST_HELPER_DIR"

// TestMain turns the test binary into the helper process when helperDirEnv is set, so the
// helper is not a test of its own.
func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		if err := helperMain(dir); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperMain(dir string) error {
	ctx := context.Background()
	c, err := Start(ctx, Options{Dir: dir, ExtraConfig: fastConfig})
	if err != nil {
		return err
	}
	db, err := sql.Open("postgres", c.URL())
	if err != nil {
		return err
	}
	defer db.Close()
	var one string
	if err := db.QueryRowContext(ctx, `SELECT 1::text`).Scan(&one); err != nil || one != "1" {
		return fmt.Errorf("querying the cluster: %q, %v", one, err)
	}
	out, err := json.Marshal(helperResult{Owned: c.Owned(), Port: c.Port()})
	if err != nil {
		return err
	}
	fmt.Printf("RESULT %s\n", out)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

type helperResult struct {
	Owned bool
	Port  int
}

func TestStartConcurrentProcesses(t *testing.T) {
	t.Parallel()
	bundle := setup(t)

	// Start n processes at once; each keeps running until all have reported,
	// so none can adopt a server whose starter already exited.
	const n = 4
	type helper struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stdout *bufio.Scanner
		stderr strings.Builder
	}
	helpers := make([]*helper, n)
	for i := range helpers {
		h := &helper{cmd: exec.CommandContext(bundle.ctx, os.Args[0], "-test.run=^$", "-test.count=1")}
		h.cmd.Env = append(os.Environ(), helperDirEnv+"="+bundle.dir)
		h.cmd.Stderr = &h.stderr
		var err error
		h.stdin, err = h.cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := h.cmd.StdoutPipe()
		require.NoError(t, err)
		h.stdout = bufio.NewScanner(stdout)
		require.NoError(t, h.cmd.Start())
		helpers[i] = h
	}

	var results []helperResult
	var output []string
	for _, h := range helpers {
		for h.stdout.Scan() {
			line := h.stdout.Text()
			output = append(output, line)
			if js, ok := strings.CutPrefix(line, "RESULT "); ok {
				var r helperResult
				require.NoError(t, json.Unmarshal([]byte(js), &r))
				results = append(results, r)
				break
			}
		}
	}
	for _, h := range helpers {
		require.NoError(t, h.stdin.Close())
		for h.stdout.Scan() {
			output = append(output, h.stdout.Text())
		}
		require.NoError(t, h.cmd.Wait(), "%s\n%s", strings.Join(output, "\n"), h.stderr.String())
	}
	require.Len(t, results, n, strings.Join(output, "\n"))

	owners := 0
	for _, r := range results {
		require.Equal(t, results[0].Port, r.Port, "all processes share one server")
		if r.Owned {
			owners++
		}
	}
	require.Equal(t, 1, owners, "exactly one process started the server: %+v", results)

	// Its starter has exited, so the next Start adopts it (and stops it at cleanup).
	c := start(t, bundle.opts)
	require.True(t, c.Owned())
	require.Equal(t, results[0].Port, c.Port())
}
