package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

type rfmBundle struct {
	ctx    context.Context
	db     *sql.DB
	client *Client
	driver *riverdatabasesql.Driver
	worker *rivertest.Worker[ComputeRFMArgs, *sql.Tx]
}

func setupRFM(t *testing.T) *rfmBundle {
	t.Helper()
	db := testdb.New(t)
	deps := Deps{DB: db, Log: slog.New(slog.DiscardHandler)}
	client, _, err := NewClient(deps, Options{})
	require.NoError(t, err)
	driver := riverdatabasesql.New(db)
	return &rfmBundle{
		ctx: t.Context(), db: db, client: client, driver: driver,
		worker: rivertest.NewWorker(t, driver, &river.Config{}, NewComputeRFMWorker(deps)),
	}
}

// customerWithOrder inserts a customer with one order of revenue 10 placed `ago` before now.
func (b *rfmBundle) customerWithOrder(t *testing.T, ago time.Duration) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), '{}', '{}', now(), now())`, id)
	require.NoError(t, err)
	_, err = b.db.ExecContext(b.ctx, `INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, revenue, customer_id)
		VALUES ($1, 'track', 'Order Completed', now() - $2 * interval '1 second', now(), $3, 10, $4)`,
		uuid.Must(uuid.NewV7()), int64(ago/time.Second), uuid.NewString(), id)
	require.NoError(t, err)
	return id
}

func (b *rfmBundle) label(t *testing.T, id uuid.UUID) sql.NullString {
	t.Helper()
	var label sql.NullString
	require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT rfm_label FROM customers WHERE id = $1`, id).Scan(&label))
	return label
}

func (b *rfmBundle) work(t *testing.T, args ComputeRFMArgs) (*rivertest.WorkResult, error) {
	t.Helper()
	tx, err := b.db.BeginTx(b.ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	return b.worker.Work(b.ctx, t, tx, args, nil)
}

func TestComputeRFMWorker(t *testing.T) {
	t.Parallel()
	b := setupRFM(t)

	recent := b.customerWithOrder(t, time.Hour)
	older := b.customerWithOrder(t, 100*24*time.Hour)

	res, err := b.work(t, ComputeRFMArgs{})
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	// Two customers: the recent one ranks 2 of 2 on recency (score 1 + 5*1/2 = 3), both tie on
	// frequency and monetary (score 1): R3 FM1 is About To Sleep, R1 FM1 Lost.
	require.Equal(t, sql.NullString{String: "About To Sleep", Valid: true}, b.label(t, recent))
	require.Equal(t, sql.NullString{String: "Lost", Valid: true}, b.label(t, older))

	// A 30-day window drops the older customer's RFM.
	res, err = b.work(t, ComputeRFMArgs{WindowDays: 30})
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.False(t, b.label(t, older).Valid)
	require.True(t, b.label(t, recent).Valid)
}

func TestComputeRFMWorkerCancelsBadWindow(t *testing.T) {
	t.Parallel()
	for _, days := range []int{-1, maxWindowDays + 1, 200_000} {
		t.Run(fmt.Sprintf("window_days %d", days), func(t *testing.T) {
			t.Parallel()
			b := setupRFM(t)
			res, err := b.work(t, ComputeRFMArgs{WindowDays: days})
			if err != nil {
				require.ErrorContains(t, err, "window_days")
			}
			require.Equal(t, river.EventKindJobCancelled, res.EventKind)
			require.Equal(t, rivertype.JobStateCancelled, res.Job.State)
		})
	}
}

func TestComputeRFMIsUnique(t *testing.T) {
	t.Parallel()
	b := setupRFM(t)

	first, err := b.client.Insert(b.ctx, ComputeRFMArgs{}, nil)
	require.NoError(t, err)
	require.False(t, first.UniqueSkippedAsDuplicate)
	// Whatever the args, a second one while the first is queued is the first.
	second, err := b.client.Insert(b.ctx, ComputeRFMArgs{WindowDays: 30}, nil)
	require.NoError(t, err)
	require.True(t, second.UniqueSkippedAsDuplicate)
	require.Equal(t, first.Job.ID, second.Job.ID)
	rivertest.RequireManyInserted(b.ctx, t, b.driver, []rivertest.ExpectedJob{{Args: ComputeRFMArgs{}}})

	// Once it completed, the next (hourly) one is queued rather than blocked by the completed row.
	_, err = b.db.ExecContext(b.ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, first.Job.ID)
	require.NoError(t, err)
	third, err := b.client.Insert(b.ctx, ComputeRFMArgs{}, nil)
	require.NoError(t, err)
	require.False(t, third.UniqueSkippedAsDuplicate)
	require.NotEqual(t, first.Job.ID, third.Job.ID)
}

func TestComputeRFMIsScheduled(t *testing.T) {
	t.Parallel()

	client, runnable, err := NewClient(Deps{DB: testdb.New(t)}, Options{RunWorkers: true})
	require.NoError(t, err)
	require.True(t, runnable)
	require.NotNil(t, client)
	require.NotNil(t, computeRFMPeriodic())
	// The segments' jobs, ComputeRFM, ApplyRetention and the campaigns' jobs.
	require.Len(t, periodicJobs(Deps{}), len(segmentPeriodicJobs())+2+len(campaignPeriodicJobs()))
}
