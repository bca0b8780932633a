package namedsql_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/namedsql"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     string
		want    map[string]string
		wantErr string
	}{
		{"blocks, comments and semicolons",
			"-- header comment\n\n-- name: a\n-- about a\nSELECT 1;\n\n-- name: b\nSELECT\n  -- inline note\n  2\n",
			map[string]string{"a": "SELECT 1", "b": "SELECT\n  2"}, ""},
		{"empty block", "-- name: a\n-- nothing\n-- name: b\nSELECT 1;\n", nil, `query "a" is empty`},
		{"duplicate", "-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n", nil, `query "a" is defined twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := namedsql.Parse(tt.src)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMustParsePanicsOnMissingName(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { namedsql.MustParse("x.sql", "-- name: a\nSELECT 1", "b") })
	require.NotPanics(t, func() { namedsql.MustParse("x.sql", "-- name: a\nSELECT 1", "a") })
}

func TestPrepareFailsOnBrokenQuery(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	st, err := namedsql.Prepare(ctx, db, "-- name: ok\nSELECT $1::int + 1")
	require.NoError(t, err)
	defer st.Close()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	var n int
	require.NoError(t, st.On(ctx, tx, "ok").QueryRowContext(ctx, 41).Scan(&n))
	require.Equal(t, 42, n)

	_, err = namedsql.Prepare(ctx, db, "-- name: broken\nSELECT FROM nowhere_at_all")
	require.ErrorContains(t, err, "error preparing query broken")
}
