package testdb

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

func tableExists(t *testing.T, db *sql.DB, table string) bool {
	t.Helper()
	var exists bool
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
	return exists
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	admin, err := sql.Open("postgres", ServerURL(t))
	require.NoError(t, err)
	defer admin.Close()
	var exists bool
	require.NoError(t, admin.QueryRowContext(t.Context(),
		`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
	return exists
}

func TestNewIsMigrated(t *testing.T) {
	t.Parallel()

	db := New(t)
	require.True(t, tableExists(t, db, "cairn_schema_migrations"))
	var applied int
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT count(*) FROM cairn_schema_migrations`).Scan(&applied))
	require.Positive(t, applied)
}

func TestNewIsIsolated(t *testing.T) {
	t.Parallel()

	a, b := New(t), New(t)
	_, err := a.ExecContext(t.Context(), `CREATE TABLE isolation_probe (id int)`)
	require.NoError(t, err)
	require.True(t, tableExists(t, a, "isolation_probe"))
	require.False(t, tableExists(t, b, "isolation_probe"))
}

// Parallel tests may create the same objects without seeing each other's.
func TestNewParallelTests(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"A", "B", "C", "D"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := New(t)
			require.False(t, tableExists(t, db, "isolation_probe"))
			_, err := db.ExecContext(t.Context(), `CREATE TABLE isolation_probe (name text); INSERT INTO isolation_probe VALUES ('`+name+`')`)
			require.NoError(t, err)
			var got string
			require.NoError(t, db.QueryRowContext(t.Context(), `SELECT string_agg(name, ',') FROM isolation_probe`).Scan(&got))
			require.Equal(t, name, got)
		})
	}
}

func TestURLIsDroppedAtCleanup(t *testing.T) {
	t.Parallel()

	var name string
	t.Run("UsesDatabase", func(t *testing.T) {
		dbURL := URL(t)
		db, err := sql.Open("postgres", dbURL)
		require.NoError(t, err)
		// Left open on purpose: cleanup must cut it.
		require.NoError(t, db.QueryRowContext(t.Context(), `SELECT current_database()`).Scan(&name))
		require.True(t, databaseExists(t, name))
	})
	require.NotEmpty(t, name)
	require.False(t, databaseExists(t, name))
}

func BenchmarkNew(b *testing.B) {
	New(b) // server warm and template made
	for b.Loop() {
		New(b)
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()

	require.Equal(t, "postgres://u:p@127.0.0.1:5432/test_1_ab?sslmode=disable",
		withDatabase("postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable", "test_1_ab"))
	require.Equal(t, "postgres://h/x", withDatabase("postgres://h", "x"))
}
