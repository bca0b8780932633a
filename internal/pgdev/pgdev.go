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
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
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

func (c *Cluster) pgCtl() string { return filepath.Join(c.binDir, "pg_ctl") }

func (c *Cluster) passwordPath() string { return filepath.Join(c.dir, "password") }

func (c *Cluster) statePath() string { return filepath.Join(c.dir, "cairn-cluster.json") }
