package migrate_test

import (
	"context"
	"database/sql"
	"testing"
	"testing/fstest"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/migrate"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

// emptyDB returns a brand-new database with no schema at all (not cloned from the template).
func emptyDB(t *testing.T) *sql.DB {
	t.Helper()
	admin, err := sql.Open("postgres", testdb.ServerURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	name := "mig_" + randomSuffix(t)
	_, err = admin.Exec(`CREATE DATABASE ` + name) // generated name, not user input
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	db, err := sql.Open("postgres", withDatabase(t, testdb.ServerURL(t), name))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, db.QueryRow(`SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok))
	return ok
}

func TestUpOnEmptyDatabaseThenNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := emptyDB(t)

	pending, err := migrate.Pending(ctx, db)
	require.NoError(t, err)
	require.NotEmpty(t, pending)

	res, err := migrate.Apply(ctx, db)
	require.NoError(t, err)
	require.NotEmpty(t, res.Applied)
	require.NotEmpty(t, res.RiverApplied)
	for _, table := range []string{"customers", "identities", "interactions", "segments", "api_keys", "audit_events", "river_job"} {
		require.True(t, tableExists(t, db, table), table)
	}

	res, err = migrate.Apply(ctx, db)
	require.NoError(t, err)
	require.Empty(t, res.Applied, "second run must be a no-op")
	require.Empty(t, res.RiverApplied, "second run must be a no-op")

	pending, err = migrate.Pending(ctx, db)
	require.NoError(t, err)
	require.Empty(t, pending)
}

func TestConcurrentUpSerialises(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := emptyDB(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- migrate.Up(ctx, db) }()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM cairn_schema_migrations`).Scan(&n))
	pending, err := migrate.Pending(ctx, db)
	require.NoError(t, err)
	require.Empty(t, pending)
	require.Positive(t, n)
}

func TestFailedMigrationLeavesSchemaAsItWas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := emptyDB(t)
	fsys := fstest.MapFS{
		"001_good.sql": {Data: []byte(`CREATE TABLE good (id int);`)},
		"002_bad.sql":  {Data: []byte(`CREATE TABLE half (id int); SELECT no_such_function();`)},
	}
	_, err := migrate.ApplyFS(ctx, db, fsys)
	require.ErrorContains(t, err, "002_bad.sql")
	require.False(t, tableExists(t, db, "good"), "a failed run must apply nothing")
	require.False(t, tableExists(t, db, "half"))

	delete(fsys, "002_bad.sql")
	res, err := migrate.ApplyFS(ctx, db, fsys)
	require.NoError(t, err)
	require.Equal(t, []string{"001"}, res.Applied)
	require.True(t, tableExists(t, db, "good"))
}
