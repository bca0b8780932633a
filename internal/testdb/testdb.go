// Package testdb gives every test its own PostgreSQL database, cloned in a few
// milliseconds from a template database that has all of Cairn's migrations
// applied, and dropped when the test ends.
//
// The server is CAIRN_TEST_DATABASE_URL when set (a URL whose role may create
// databases; its database is used for maintenance). Otherwise it is a private
// cluster in <repo root>/.cairn/testpg, started by the first test binary that
// needs it (package pgdev, with durability traded for speed) and left running
// so that later test runs start warm; stop it with
// `pg_ctl stop -D .cairn/testpg/data` (as the postgres user when root) or just
// leave it.
//
// The template is named after a hash of what shapes the schema (migrations/,
// internal/migrate and the River version), so a changed migration makes a
// fresh template. It is created once per server under an advisory lock, so the
// many test binaries of `go test ./...` do not race.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/migrate"
	"github.com/cairn-cdp/cairn/internal/pgdev"
)

const (
	// ServerURLEnv names the variable that points tests at an existing server.
	ServerURLEnv = "CAIRN_TEST_DATABASE_URL"

	templatePrefix = "cairn_template_"
	// templateLockKey is the pg_advisory_lock key ("cairntpl") held while a
	// template is created.
	templateLockKey = 0x636169726e74706c
	// maxOpenConns bounds each test's pool; many test binaries share the server.
	maxOpenConns = 10
	// staleAfter is the age after which a test database left behind by a killed
	// test binary is dropped.
	staleAfter = 24 * time.Hour
)

// testDBName matches the names newName generates: test_<unix seconds>_<random>.
var testDBName = regexp.MustCompile(`^test_([0-9]+)_[0-9a-f]+$`)

// New returns a connection pool to a fresh database cloned from the migrated
// template. The pool is closed and the database dropped at t.Cleanup.
func New(t testing.TB) *sql.DB {
	t.Helper()
	dbURL := URL(t)
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatalf("testdb: error opening test database: %v", err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("testdb: error connecting to test database: %v", err)
	}
	return db
}

// URL creates a fresh database cloned from the migrated template and returns
// its connection URL, for tests that open their own connections (running the
// binary, for example). The database is dropped at t.Cleanup, cutting any
// connections still open.
func URL(t testing.TB) string {
	t.Helper()
	srv := mustServer(t)
	tpl, err := srv.template()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	name, err := newName()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// STRATEGY FILE_COPY copies the template's files; PG 15's default WAL_LOG
	// also writes every page (~8 MB here) through shared buffers into WAL,
	// which is what bounds throughput when many test binaries clone at once:
	// 8 concurrent binaries of this package, warm, took 2.7-3.0 s with
	// FILE_COPY vs 3.7-4.7 s with WAL_LOG (2 vCPUs); one clone alone costs
	// about the same either way (20-100 ms, mostly kernel time copying files).
	if _, err := srv.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+
		" TEMPLATE "+pq.QuoteIdentifier(tpl)+srv.cloneStrategy); err != nil {
		t.Fatalf("testdb: error creating database %s from %s: %v", name, tpl, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.drop(ctx, name); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return withDatabase(srv.url, name)
}

// ServerURL returns the URL of the server's maintenance database, for tests
// that create and drop databases themselves.
func ServerURL(t testing.TB) string {
	t.Helper()
	return mustServer(t).url
}

// server is the database server of this test binary, shared by its tests.
type server struct {
	url   string  // maintenance database
	admin *sql.DB // pool on url for CREATE/DROP DATABASE
	root  string  // repository root
	local bool    // the pgdev cluster, not CAIRN_TEST_DATABASE_URL
	// cloneStrategy is " STRATEGY FILE_COPY" on PostgreSQL 15+, where the
	// option exists; before 15 file copy is the only strategy.
	cloneStrategy string

	template func() (string, error) // name of the migrated template, made once
}

var getServer = sync.OnceValues(openServer)

func mustServer(t testing.TB) *server {
	t.Helper()
	srv, err := getServer()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return srv
}

func openServer() (*server, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	srv := &server{root: root}
	if env := os.Getenv(ServerURLEnv); env != "" {
		u, err := url.Parse(env)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, fmt.Errorf("%s must be a postgres:// URL", ServerURLEnv)
		}
		if strings.Trim(u.Path, "/") == "" {
			u.Path = "/postgres"
		}
		srv.url = u.String()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := pgdev.Start(ctx, pgdev.Options{
			Dir: filepath.Join(root, ".cairn", "testpg"),
			ExtraConfig: map[string]string{
				"fsync":              "off",
				"synchronous_commit": "off",
				"full_page_writes":   "off",
				"max_connections":    "500",
			},
		})
		if err != nil {
			return nil, fmt.Errorf("error starting the test PostgreSQL cluster (or set %s): %w", ServerURLEnv, err)
		}
		// Never stopped: the next test binary reuses it.
		srv.url = c.URLFor("postgres")
		srv.local = true
	}

	admin, err := sql.Open("postgres", srv.url)
	if err != nil {
		return nil, fmt.Errorf("error opening maintenance database: %w", err)
	}
	admin.SetMaxOpenConns(maxOpenConns)
	srv.admin = admin

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var version int
	if err := admin.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		admin.Close()
		return nil, fmt.Errorf("error connecting to %s: %w", pgdev.RedactDSN(srv.url), err)
	}
	if version >= 150000 {
		srv.cloneStrategy = " STRATEGY FILE_COPY"
	}
	srv.template = sync.OnceValues(srv.makeTemplate)
	return srv, nil
}

// makeTemplate returns the name of the template for the current schema,
// creating and migrating it first if no test binary has yet.
func (s *server) makeTemplate() (string, error) {
	hash, err := schemaHash(s.root)
	if err != nil {
		return "", err
	}
	name := templatePrefix + hash[:16]

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := s.admin.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("error connecting to %s: %w", pgdev.RedactDSN(s.url), err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(templateLockKey)); err != nil {
		return "", fmt.Errorf("error taking template lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(templateLockKey)) //nolint:errcheck // released with the session anyway

	var isTemplate bool
	err = conn.QueryRowContext(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, name).Scan(&isTemplate)
	switch {
	case err == nil && isTemplate:
		s.dropStale(ctx, conn, name)
		return name, nil
	case err == nil:
		// Left half-made by a killed test binary: start over.
		if _, err := conn.ExecContext(ctx, "DROP DATABASE "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("error dropping unfinished template %s: %w", name, err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("error looking up template %s: %w", name, err)
	}

	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		return "", fmt.Errorf("error creating template %s: %w", name, err)
	}
	if err := migrateDatabase(ctx, withDatabase(s.url, name)); err != nil {
		return "", fmt.Errorf("error migrating template %s: %w", name, err)
	}
	// No connections allowed: one would block every CREATE DATABASE ... TEMPLATE.
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(name)+
		" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return "", fmt.Errorf("error marking %s as a template: %w", name, err)
	}
	s.dropStale(ctx, conn, name)
	return name, nil
}

func migrateDatabase(ctx context.Context, dbURL string) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	return migrate.Up(ctx, db)
}

// dropStale drops test databases a killed test binary left behind and, on the
// private cluster only (a shared server may serve other checkouts), templates
// of other schemas. Failures are left for the next run.
func (s *server) dropStale(ctx context.Context, conn *sql.Conn, keep string) {
	rows, err := conn.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'test\_%' OR datname LIKE 'cairn\_template\_%'`)
	if err != nil {
		return
	}
	var names []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil {
			names = append(names, name)
		}
	}
	rows.Close()

	for _, name := range names {
		q := pq.QuoteIdentifier(name)
		if m := testDBName.FindStringSubmatch(name); m != nil {
			created, _ := strconv.ParseInt(m[1], 10, 64)
			if time.Since(time.Unix(created, 0)) > staleAfter {
				_, _ = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+q+" WITH (FORCE)")
			}
		} else if s.local && strings.HasPrefix(name, templatePrefix) && name != keep {
			if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+q+" WITH IS_TEMPLATE false"); err == nil {
				_, _ = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+q)
			}
		}
	}
}

func (s *server) drop(ctx context.Context, name string) error {
	if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("error dropping database %s: %w", name, err)
	}
	return nil
}

// schemaHash is a sha256 over what decides the migrated schema: every file
// under migrations/, the non-test Go files of internal/migrate (how they are
// applied), and the River module versions in go.mod (rivermigrate's schema).
func schemaHash(root string) (string, error) {
	h := sha256.New()
	add := func(dir string, keep func(path string) bool) error {
		return filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || d.IsDir() || !keep(path) {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
			h.Write(b)
			return nil
		})
	}
	if err := add("migrations", func(string) bool { return true }); err != nil {
		return "", fmt.Errorf("error hashing migrations: %w", err)
	}
	goSource := func(path string) bool {
		return strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go")
	}
	if err := add(filepath.Join("internal", "migrate"), goSource); err != nil {
		return "", fmt.Errorf("error hashing internal/migrate: %w", err)
	}
	// River's version comes from go.mod, not the test binary's build info: binaries link
	// different subsets of River's modules, and must all agree on one template.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("error reading go.mod: %w", err)
	}
	var deps []string
	for _, line := range strings.Split(string(gomod), "\n") {
		if strings.Contains(line, "github.com/riverqueue/") {
			deps = append(deps, strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), "// indirect")), " "))
		}
	}
	slices.Sort(deps)
	fmt.Fprintf(h, "%s\x00", strings.Join(deps, "\n"))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// repoRoot walks up from the working directory (a test's package directory)
// to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("error getting working directory: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod found above %s", dir)
		}
	}
}

// newName makes a database name that records its creation time, so that one
// left behind can be recognised as stale.
func newName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("error generating database name: %w", err)
	}
	return fmt.Sprintf("test_%d_%s", time.Now().Unix(), hex.EncodeToString(b[:])), nil
}

// withDatabase returns serverURL pointing at database name.
func withDatabase(serverURL, name string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		panic(err) // serverURL was parsed in openServer or built by pgdev
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}
