// Package pgdev runs a private PostgreSQL cluster for local development and
// tests with the machine's own initdb and pg_ctl: `cairn serve` without
// DATABASE_URL uses one under ./.cairn/pg, and package testdb shares one
// across test binaries. RedactDSN makes any connection string safe to print.
//
// A cluster directory holds:
//
//	data/               the data directory (initdb)
//	run/                the unix socket directory (trust auth, for local admin)
//	password            the generated password of superuser "cairn" (0600)
//	postgres.log        the server log
//	cairn-cluster.json  port and owner of the running server
//	.lock               flock taken while a process inspects or starts the cluster
//
// Start is safe to call from many processes at once on the same directory: the
// first starts the server and owns it, the others connect to it and do not own
// it, so their Stop leaves it running.
package pgdev

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/shell"
)

const (
	// DefaultDir is the cluster root used when Options.Dir is empty.
	DefaultDir = "./.cairn/pg"
	// Superuser is the role initdb creates and every URL connects as.
	Superuser = "cairn"
	// Database is the database Start makes sure exists and URL points at.
	Database = "cairn"

	// maintenanceDB is the database used for admin queries.
	maintenanceDB = "postgres"
	// startTimeout is pg_ctl's -t for start and how long we wait for a
	// running server to accept connections.
	startTimeout = 30 * time.Second
	// logRotateSize is the size above which postgres.log is moved aside to
	// postgres.log.1 before a start.
	logRotateSize = 16 << 20
	// maxSocketPath is the usable length of a unix socket path (sun_path).
	maxSocketPath = 107
)

// Options configures Start. The zero value means defaults.
type Options struct {
	// Dir is the cluster root; default DefaultDir. The data directory is
	// Dir/data, the socket directory Dir/run and the log Dir/postgres.log.
	Dir string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// ExtraConfig holds server settings passed as -c name=value when this
	// call starts the server (for example fsync=off for tests). They are not
	// applied when Start connects to a server that is already running.
	ExtraConfig map[string]string
	// BinDir is the directory holding initdb and pg_ctl; default FindBinaries().
	BinDir string
}

// Cluster is a running local PostgreSQL server.
type Cluster struct {
	dir      string
	dataDir  string
	runDir   string
	logPath  string
	binDir   string
	port     int
	password string
	owned    bool
	stopped  bool
	user     serverUser
	logger   *slog.Logger
}

// clusterState is Dir/cairn-cluster.json, written by the process that started
// the server.
type clusterState struct {
	Port          int       `json:"port"`
	PostmasterPID int       `json:"postmaster_pid"`
	OwnerPID      int       `json:"owner_pid"`
	StartedAt     time.Time `json:"started_at"`
}

// Start makes sure a cluster is initialised in opts.Dir and running, and that
// database "cairn" exists. If a server is already running on that directory it
// connects to it instead of starting a second one, and the Cluster is not
// Owned (unless the process that started it has exited, in which case this
// one adopts it, so that a crashed `cairn serve` does not leave an orphan
// nobody stops).
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	began := time.Now()
	c, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("error creating cluster directory %s: %w", c.dir, err)
	}
	if err := c.user.makeTraversable(c.dir, c.logger.Info); err != nil {
		return nil, err
	}
	if err := c.user.chown(c.dir); err != nil {
		return nil, err
	}

	lock, err := lockDir(ctx, filepath.Join(c.dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer lock.unlock()

	if err := c.ensureInitialised(ctx, opts.ExtraConfig); err != nil {
		return nil, err
	}
	if pid, port, ok, err := c.runningPostmaster(); err != nil {
		return nil, err
	} else if ok {
		if err := c.attach(ctx, pid, port); err != nil {
			return nil, err
		}
		c.logger.Debug("connected to running postgres", "dir", c.dir, "port", c.port, "owned", c.owned,
			"elapsed", time.Since(began))
		return c, nil
	}
	if err := c.start(ctx, opts.ExtraConfig); err != nil {
		return nil, err
	}
	c.logger.Info("started postgres", "dir", c.dir, "port", c.port, "elapsed", time.Since(began))
	return c, nil
}

func newCluster(opts Options) (*Cluster, error) {
	dir := opts.Dir
	if dir == "" {
		dir = DefaultDir
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("error resolving cluster directory %q: %w", opts.Dir, err)
	}
	for name := range opts.ExtraConfig {
		if !settingName.MatchString(name) {
			return nil, fmt.Errorf("invalid server setting name %q in ExtraConfig", name)
		}
	}
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = FindBinaries(); err != nil {
			return nil, err
		}
	}
	u, err := currentServerUser()
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		runDir:  filepath.Join(dir, "run"),
		logPath: filepath.Join(dir, "postgres.log"),
		binDir:  binDir,
		user:    u,
		logger:  logger,
	}, nil
}

var settingName = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)

// URL is the connection URL of database "cairn" as superuser "cairn".
func (c *Cluster) URL() string { return c.URLFor(Database) }

// URLFor is the connection URL of database dbname as superuser "cairn".
func (c *Cluster) URLFor(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Owned reports whether Stop will stop the server: true when this Cluster
// started it (or adopted it from an exited process).
func (c *Cluster) Owned() bool { return c.owned && !c.stopped }

// Dir is the absolute cluster root.
func (c *Cluster) Dir() string { return c.dir }

// Port is the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down (pg_ctl stop -m fast) if this Cluster owns it;
// otherwise it does nothing. Connections of other processes are cut.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.Owned() {
		return nil
	}
	lock, err := lockDir(ctx, filepath.Join(c.dir, ".lock"))
	if err != nil {
		return err
	}
	defer lock.unlock()

	if _, _, running, err := c.runningPostmaster(); err != nil {
		return err
	} else if running {
		out, err := c.user.run(ctx, c.dir, c.pgCtl(), "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "60", "-s")
		if err != nil {
			return fmt.Errorf("error stopping postgres in %s: %w: %s%s", c.dir, err, out, c.logTail())
		}
	}
	if err := os.Remove(c.statePath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("error removing cluster state file: %w", err)
	}
	c.stopped = true
	c.logger.Info("stopped postgres", "dir", c.dir)
	return nil
}

func (c *Cluster) pgCtl() string        { return filepath.Join(c.binDir, "pg_ctl") }
func (c *Cluster) passwordPath() string { return filepath.Join(c.dir, "password") }
func (c *Cluster) statePath() string    { return filepath.Join(c.dir, "cairn-cluster.json") }

// ensureInitialised runs initdb unless Dir/data exists, and loads the password.
//
// initdb runs into Dir/data.init, the password is saved, and only then is
// data.init renamed to data: so Dir/data exists only for a complete cluster
// whose password is on disk, and an interrupted init is simply redone.
func (c *Cluster) ensureInitialised(ctx context.Context, extra map[string]string) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		pw, err := os.ReadFile(c.passwordPath())
		if err != nil {
			return fmt.Errorf("error reading password of cluster %s (remove the directory to start afresh): %w", c.dir, err)
		}
		c.password = strings.TrimSpace(string(pw))
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("error checking data directory %s: %w", c.dataDir, err)
	}
	if entries, _ := os.ReadDir(c.dataDir); len(entries) > 0 {
		return fmt.Errorf("data directory %s exists but holds no PG_VERSION; move it away to let cairn initialise a cluster", c.dataDir)
	}

	began := time.Now()
	c.logger.Info("initialising postgres cluster", "dir", c.dir, "bin", c.binDir)
	initDir := c.dataDir + ".init"
	if err := os.RemoveAll(initDir); err != nil {
		return fmt.Errorf("error removing interrupted init %s: %w", initDir, err)
	}
	if err := os.Remove(c.dataDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("error removing empty data directory %s: %w", c.dataDir, err)
	}

	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("error generating password: %w", err)
	}
	password := hex.EncodeToString(raw[:])

	// initdb reads the password from a file, which must be readable by the
	// server user; it is removed right after.
	pwfile := filepath.Join(c.dir, ".initdb-pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("error writing initdb password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := c.user.chown(pwfile); err != nil {
		return err
	}

	args := []string{
		"-D", initDir,
		"-U", Superuser,
		"--pwfile=" + pwfile,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
	}
	if strings.EqualFold(extra["fsync"], "off") {
		args = append(args, "--no-sync")
	}
	out, err := c.user.run(ctx, c.dir, filepath.Join(c.binDir, "initdb"), args...)
	if err != nil {
		return fmt.Errorf("error running initdb in %s: %w: %s", initDir, err, out)
	}
	if err := writeFileAtomic(c.passwordPath(), []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("error saving cluster password: %w", err)
	}
	if err := os.Rename(initDir, c.dataDir); err != nil {
		return fmt.Errorf("error moving initialised cluster into place: %w", err)
	}
	c.password = password
	c.logger.Info("initialised postgres cluster", "dir", c.dir, "elapsed", time.Since(began))
	return nil
}

// runningPostmaster reads data/postmaster.pid. A file left behind by a server
// that is gone (its PID dead, or reused by a process that is not a postgres
// serving this directory) is removed so it cannot block the next start.
func (c *Cluster) runningPostmaster() (pid, port int, running bool, err error) {
	pidPath := filepath.Join(c.dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("error reading %s: %w", pidPath, err)
	}
	// Line 1 is the PID, line 4 the port.
	lines := strings.Split(string(b), "\n")
	pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if pid > 0 && isPostmaster(pid, c.dataDir) {
		return pid, port, true, nil
	}
	c.logger.Warn("removing stale postmaster.pid", "path", pidPath, "pid", pid)
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, 0, false, fmt.Errorf("error removing stale %s: %w", pidPath, err)
	}
	return 0, 0, false, nil
}

// attach connects to a server that is already running.
func (c *Cluster) attach(ctx context.Context, pid, port int) error {
	st, stErr := c.readState()
	if port == 0 && stErr == nil {
		port = st.Port
	}
	if port == 0 {
		return fmt.Errorf("postgres (pid %d) is running on %s but its port is unknown; stop it with pg_ctl stop -D %s",
			pid, c.dir, c.dataDir)
	}
	c.port = port
	if err := c.prepareDatabase(ctx); err != nil {
		return fmt.Errorf("error connecting to running postgres (pid %d, port %d) in %s: %w", pid, port, c.dir, err)
	}
	// Adopt a server whose starter has exited, so that someone stops it.
	if stErr == nil && st.PostmasterPID == pid && !processAlive(st.OwnerPID) {
		st.OwnerPID = os.Getpid()
		if err := c.writeState(st); err != nil {
			return err
		}
		c.owned = true
	}
	return nil
}

// start launches the server with pg_ctl on a free port.
func (c *Cluster) start(ctx context.Context, extra map[string]string) error {
	if err := c.checkVersion(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.runDir, 0o755); err != nil {
		return fmt.Errorf("error creating socket directory: %w", err)
	}
	if err := c.user.chown(c.runDir); err != nil {
		return err
	}
	c.rotateLog()

	const attempts = 3
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		logSize := fileSize(c.logPath)
		out, err := c.user.run(ctx, c.dir, c.pgCtl(), "start", "-D", c.dataDir, "-l", c.logPath,
			"-w", "-t", strconv.Itoa(int(startTimeout/time.Second)), "-s", "-o", c.serverOptions(port, extra))
		if err == nil {
			c.port = port
			break
		}
		// Another process may have taken the port between freePort and bind.
		if attempt < attempts && strings.Contains(c.logSince(logSize), "already in use") {
			c.logger.Warn("postgres port was taken, retrying", "port", port)
			continue
		}
		return fmt.Errorf("error starting postgres in %s with pg_ctl: %w: %s%s", c.dir, err, out, c.logTail())
	}

	pid, _, running, err := c.runningPostmaster()
	if err != nil {
		return err
	}
	if !running {
		return fmt.Errorf("postgres in %s exited right after starting%s", c.dir, c.logTail())
	}
	c.owned = true
	if err := c.writeState(clusterState{Port: c.port, PostmasterPID: pid, OwnerPID: os.Getpid(), StartedAt: time.Now().UTC()}); err != nil {
		return err
	}
	if err := c.prepareDatabase(ctx); err != nil {
		return fmt.Errorf("error preparing started postgres in %s: %w%s", c.dir, err, c.logTail())
	}
	return nil
}

// serverOptions is pg_ctl's -o string, which pg_ctl passes through /bin/sh.
func (c *Cluster) serverOptions(port int, extra map[string]string) string {
	socketDir := c.runDir
	if len(filepath.Join(socketDir, ".s.PGSQL.65535")) > maxSocketPath {
		c.logger.Warn("cluster path too long for a unix socket; listening on TCP only", "dir", c.runDir)
		socketDir = ""
	}
	opts := []string{
		"-p", strconv.Itoa(port),
		"-k", shell.Quote(socketDir),
		"-c", shell.Quote("listen_addresses=127.0.0.1"),
	}
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		opts = append(opts, "-c", shell.Quote(name+"="+extra[name]))
	}
	return strings.Join(opts, " ")
}

// prepareDatabase waits until the server accepts password logins over TCP and
// makes sure database "cairn" exists.
func (c *Cluster) prepareDatabase(ctx context.Context) error {
	db, err := sql.Open("postgres", c.URLFor(maintenanceDB))
	if err != nil {
		return fmt.Errorf("error opening connection: %w", err)
	}
	defer db.Close()

	deadline := time.Now().Add(startTimeout)
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = db.PingContext(pingCtx)
		cancel()
		if err == nil {
			break
		}
		if fatalConnectError(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("error connecting to postgres on port %d: %w", c.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, Database).Scan(&exists); err != nil {
		return fmt.Errorf("error checking for database %q: %w", Database, err)
	}
	if exists {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(Database)); err != nil && sqlState(err) != "42P04" {
		return fmt.Errorf("error creating database %q: %w", Database, err)
	}
	return nil
}

// fatalConnectError reports errors that waiting will not fix: authentication
// failures (class 28) and a missing database (3D000).
func fatalConnectError(err error) bool {
	state := sqlState(err)
	return strings.HasPrefix(state, "28") || state == "3D000"
}

func sqlState(err error) string {
	var e interface{ SQLState() string }
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}

// checkVersion refuses to start a data directory made by another major version.
func (c *Cluster) checkVersion() error {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION"))
	if err != nil {
		return fmt.Errorf("error reading PG_VERSION: %w", err)
	}
	dataVersion := strings.TrimSpace(string(b))
	binVersion, err := serverMajorVersion(c.binDir)
	if err != nil {
		return err
	}
	if dataVersion != binVersion {
		return fmt.Errorf("cluster %s was initialised by PostgreSQL %s but the binaries in %s are version %s; "+
			"remove the directory to start afresh, or install PostgreSQL %s", c.dir, dataVersion, c.binDir, binVersion, dataVersion)
	}
	return nil
}

func (c *Cluster) readState() (clusterState, error) {
	var st clusterState
	b, err := os.ReadFile(c.statePath())
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("error decoding %s: %w", c.statePath(), err)
	}
	return st, nil
}

func (c *Cluster) writeState(st clusterState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("error encoding cluster state: %w", err)
	}
	if err := writeFileAtomic(c.statePath(), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("error writing cluster state: %w", err)
	}
	return nil
}

// rotateLog moves a large postgres.log aside; only called while stopped.
func (c *Cluster) rotateLog() {
	if fileSize(c.logPath) > logRotateSize {
		if err := os.Rename(c.logPath, c.logPath+".1"); err != nil {
			c.logger.Warn("could not rotate postgres log", "path", c.logPath, "err", err)
		}
	}
}

// logTail formats the last lines of the server log for an error message.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	return fmt.Sprintf("\nlast lines of %s:\n%s", c.logPath, lastLines(b, 20))
}

// logSince returns what the server logged after offset.
func (c *Cluster) logSince(offset int64) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("error finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
