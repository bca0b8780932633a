package jobs

import (
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

func TestApplyRetentionWorker(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := t.Context()
	deps := Deps{DB: db, Log: slog.New(slog.DiscardHandler)}
	worker := rivertest.NewWorker(t, riverdatabasesql.New(db), &river.Config{}, NewApplyRetentionWorker(deps, nil))

	customer := uuid.Must(uuid.NewV7())
	_, err := db.ExecContext(ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), '{}', '{}', now(), now())`, customer)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
		VALUES ($1, 'user_id', 'u1', now(), now(), $2)`, uuid.Must(uuid.NewV7()), customer)
	require.NoError(t, err)
	for _, age := range []time.Duration{time.Hour, 90 * 24 * time.Hour} {
		_, err = db.ExecContext(ctx, `INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, customer_id)
			VALUES ($1, 'track', 'Viewed', now() - $2 * interval '1 second', now(), $3, $4)`,
			uuid.Must(uuid.NewV7()), int64(age/time.Second), uuid.NewString(), customer)
		require.NoError(t, err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO retention_policies (id, created_at, updated_at, name, keep_days, action)
		VALUES ($1, now(), now(), 'views', 30, 'delete')`, uuid.Must(uuid.NewV7()))
	require.NoError(t, err)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	res, err := worker.Work(ctx, t, tx, ApplyRetentionArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.Equal(t, 1, retentionCount(t, db, `SELECT count(*) FROM interactions`))
	require.Equal(t, 1, retentionCount(t, db, `SELECT count(*) FROM retention_policies WHERE last_run_at IS NOT NULL AND rows_affected = 1`))
}

func retentionCount(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), q).Scan(&n))
	return n
}

func TestDailyAt(t *testing.T) {
	t.Parallel()
	at := dailyAt(3 * time.Hour)
	day := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		now, want time.Time
	}{
		{"before the hour", day.Add(time.Hour), day.Add(3 * time.Hour)},
		{"at the hour: the next day", day.Add(3 * time.Hour), day.Add(27 * time.Hour)},
		{"after the hour", day.Add(5 * time.Hour), day.Add(27 * time.Hour)},
		{"another zone", day.Add(time.Hour).In(time.FixedZone("X", -5*3600)), day.Add(3 * time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.True(t, tc.want.Equal(at.Next(tc.now)), "got %s", at.Next(tc.now))
		})
	}
}
