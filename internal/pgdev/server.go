package pgdev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-cdp/cairn/internal/shell"
)

// Finding, starting and attaching to the cluster's server process, and the state file that
// records who started it.
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

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("error finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
