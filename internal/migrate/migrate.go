// Package migrate applies Cairn's versioned SQL migrations (package migrations) and River's
// schema to a database. Cairn's pending migrations run in one transaction under an advisory lock,
// so concurrent starts serialise, a re-run is a no-op, and a failed migration leaves the schema as
// it was; River's follow through rivermigrate.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/cairn-cdp/cairn/migrations"
)

// lockKey is the pg_advisory_lock key that serialises migrations ("cairnmig").
const lockKey = 0x636169726e6d6967

// Result says what Up applied.
type Result struct {
	Applied      []string // app migration versions applied now
	RiverApplied []int    // River migration versions applied now
}

// Up applies every pending migration.
func Up(ctx context.Context, db *sql.DB) error {
	_, err := Apply(ctx, db)
	return err
}

// Apply applies every pending migration and reports what it applied.
func Apply(ctx context.Context, db *sql.DB) (*Result, error) {
	return apply(ctx, db, migrations.FS)
}

func apply(ctx context.Context, db *sql.DB, fsys fs.FS) (*Result, error) {
	files, err := files(fsys)
	if err != nil {
		return nil, err
	}
	// A session lock on a dedicated connection serialises whole runs (Cairn's and River's
	// migrations) across processes; rivermigrate alone does not serialise concurrent runs.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error getting a connection for migrations: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(lockKey)); err != nil {
		return nil, fmt.Errorf("error taking migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(lockKey)) //nolint:errcheck

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("error beginning migration transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS cairn_schema_migrations (
		version text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("error creating cairn_schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, f := range files {
		if applied[f.version] {
			continue
		}
		// No arguments: lib/pq uses the simple query protocol, which runs the whole file.
		if _, err := tx.ExecContext(ctx, f.sql); err != nil {
			return nil, fmt.Errorf("error applying migration %s: %w", f.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cairn_schema_migrations (version) VALUES ($1)`, f.version); err != nil {
			return nil, fmt.Errorf("error recording migration %s: %w", f.name, err)
		}
		res.Applied = append(res.Applied, f.version)
	}

	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("error committing migrations: %w", err)
	}

	// River's migrations cannot share one transaction (a later one uses an enum value an earlier
	// one adds), so rivermigrate runs each of its versions in its own transaction, under its own
	// lock.
	migrator, err := rivermigrate.New(riverdatabasesql.New(db), nil)
	if err != nil {
		return nil, fmt.Errorf("error creating River migrator: %w", err)
	}
	rres, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("error applying River migrations: %w", err)
	}
	for _, v := range rres.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}
	return res, nil
}

// Pending lists app migration versions not yet applied, and whether River's schema is behind.
// /readyz uses it.
func Pending(ctx context.Context, db *sql.DB) ([]string, error) {
	files, err := files(migrations.FS)
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('cairn_schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("error checking migrations table: %w", err)
	}
	applied := map[string]bool{}
	if exists {
		rows, err := db.QueryContext(ctx, `SELECT version FROM cairn_schema_migrations`)
		if err != nil {
			return nil, fmt.Errorf("error listing applied migrations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return nil, fmt.Errorf("error scanning migration version: %w", err)
			}
			applied[v] = true
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("error listing applied migrations: %w", err)
		}
	}
	var pending []string
	for _, f := range files {
		if !applied[f.version] {
			pending = append(pending, f.version)
		}
	}
	migrator, err := rivermigrate.New(riverdatabasesql.New(db), nil)
	if err != nil {
		return nil, fmt.Errorf("error creating River migrator: %w", err)
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		// River's table missing counts as River being behind.
		return append(pending, "river"), nil //nolint:nilerr
	}
	if len(existing) < len(migrator.AllVersions()) {
		pending = append(pending, "river")
	}
	return pending, nil
}

type file struct {
	name, version, sql string
}

func files(fsys fs.FS) ([]file, error) {
	entries, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("error listing migrations: %w", err)
	}
	sort.Strings(entries)
	out := make([]file, 0, len(entries))
	for _, name := range entries {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("error reading migration %s: %w", name, err)
		}
		version, _, _ := strings.Cut(name, "_")
		out = append(out, file{name: name, version: version, sql: string(b)})
	}
	return out, nil
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM cairn_schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("error listing applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("error scanning migration version: %w", err)
		}
		applied[v] = true
	}
	return applied, rows.Err()
}
