package pgdev

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Initialising a cluster directory and making sure its database exists.

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
