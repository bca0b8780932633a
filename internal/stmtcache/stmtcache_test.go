package stmtcache_test

import (
	"context"
	"fmt"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/stmtcache"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestDriverPreparesMarkedQueries runs queries on a one-connection pool and counts that
// connection's prepared statements: one per distinct marked text up to the limit, none for
// unmarked queries, and the same answers either way.
func TestDriverPreparesMarkedQueries(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	db.SetMaxOpenConns(1)
	drv := stmtcache.Wrap(entsql.OpenDB(dialect.Postgres, db), db, 2)
	ctx := context.Background()

	query := func(ctx context.Context, text string, arg int) int {
		var rows entsql.Rows
		require.NoError(t, drv.Query(ctx, text, []any{arg}, &rows))
		defer rows.Close()
		require.True(t, rows.Next())
		var n int
		require.NoError(t, rows.Scan(&n))
		require.False(t, rows.Next())
		require.NoError(t, rows.Err())
		return n
	}
	prepared := func() int {
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM pg_prepared_statements`).Scan(&n))
		return n
	}

	tests := []struct {
		name     string
		marked   bool
		text     string
		prepared int // on the connection afterwards
	}{
		{name: "unmarked", text: `SELECT $1::int + 1`, prepared: 0},
		{name: "marked", marked: true, text: `SELECT $1::int + 1`, prepared: 1},
		{name: "marked again", marked: true, text: `SELECT $1::int + 1`, prepared: 1},
		{name: "second text", marked: true, text: `SELECT $1::int + 2`, prepared: 2},
		{name: "over the limit: run unprepared", marked: true, text: `SELECT $1::int + 3`, prepared: 2},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ctx
			if tc.marked {
				c = stmtcache.Use(ctx)
			}
			var add int
			_, err := fmt.Sscanf(tc.text, "SELECT $1::int + %d", &add)
			require.NoError(t, err)
			require.Equal(t, i+add, query(c, tc.text, i))
			require.Equal(t, tc.prepared, prepared())
		})
	}
}
