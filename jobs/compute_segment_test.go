package jobs

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/segment"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

type segmentBundle struct {
	db     *sql.DB
	client *Client
	driver *riverdatabasesql.Driver
}

func setupSegments(t *testing.T) *segmentBundle {
	t.Helper()
	db := testdb.New(t)
	client, _, err := NewClient(Deps{DB: db}, Options{})
	require.NoError(t, err)
	return &segmentBundle{db: db, client: client, driver: riverdatabasesql.New(db)}
}

func (b *segmentBundle) createSegment(t *testing.T, name string, r *segment.Rule) *ent.Segment {
	t.Helper()
	var seg *ent.Segment
	require.NoError(t, txn.Run(context.Background(), b.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		var err error
		seg, err = segment.Create(ctx, tx, SegmentScheduler{Client: b.client}, segment.CreateInput{Name: name, Rule: r})
		return err
	}))
	return seg
}

func (b *segmentBundle) customer(t *testing.T, traits string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := b.db.Exec(`INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), $2, '{}', now(), now())`, id, traits)
	require.NoError(t, err)
	return id
}

var proRule = &segment.Rule{Trait: &segment.TraitCondition{Key: "plan", Op: segment.OpEQ, Value: "pro"}}

func TestCreateSegmentEnqueuesComputation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSegments(t)
	seg := b.createSegment(t, "pro", proRule)
	rivertest.RequireInserted(ctx, t, b.driver, ComputeSegmentArgs{SegmentID: seg.ID}, nil)

	// A failed create (invalid rule) rolls the job back with it.
	err := txn.Run(ctx, b.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		_, err := segment.Create(ctx, tx, SegmentScheduler{Client: b.client}, segment.CreateInput{Name: "bad", Rule: &segment.Rule{}})
		return err
	})
	require.ErrorIs(t, err, segment.ErrInvalidRule)
	rivertest.RequireManyInserted(ctx, t, b.driver, []rivertest.ExpectedJob{{Args: ComputeSegmentArgs{SegmentID: seg.ID}}})
}

func TestComputeSegmentIsUniquePerSegment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSegments(t)
	seg := b.createSegment(t, "pro", proRule) // enqueues the first computation
	other := b.createSegment(t, "other", proRule)

	res, err := b.client.Insert(ctx, ComputeSegmentArgs{SegmentID: seg.ID}, nil)
	require.NoError(t, err)
	require.True(t, res.UniqueSkippedAsDuplicate, "a second computation of the same segment is dropped")
	first := res.Job.ID

	res, err = b.client.Insert(ctx, ComputeSegmentArgs{SegmentID: other.ID}, nil)
	require.NoError(t, err)
	require.True(t, res.UniqueSkippedAsDuplicate)
	require.NotEqual(t, first, res.Job.ID, "other segments have their own job")

	// Running still counts; once finished, a new computation is accepted.
	_, err = b.db.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1`, first)
	require.NoError(t, err)
	res, err = b.client.Insert(ctx, ComputeSegmentArgs{SegmentID: seg.ID}, nil)
	require.NoError(t, err)
	require.True(t, res.UniqueSkippedAsDuplicate)
	_, err = b.db.Exec(`UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, first)
	require.NoError(t, err)
	res, err = b.client.Insert(ctx, ComputeSegmentArgs{SegmentID: seg.ID}, nil)
	require.NoError(t, err)
	require.False(t, res.UniqueSkippedAsDuplicate)
}

func TestComputeSegmentWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSegments(t)
	pro := b.customer(t, `{"plan": "Pro"}`)
	b.customer(t, `{"plan": "free"}`)
	seg := b.createSegment(t, "pro", proRule)

	w := rivertest.NewWorker(t, b.driver, &river.Config{}, &ComputeSegmentWorker{DB: b.db})
	tx, err := b.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	res, err := w.Work(ctx, t, tx, ComputeSegmentArgs{SegmentID: seg.ID}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	var member uuid.UUID
	require.NoError(t, b.db.QueryRow(`SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL`, seg.ID).Scan(&member))
	require.Equal(t, pro, member)

	// A deleted segment cancels the job instead of retrying it.
	res, err = w.Work(ctx, t, tx, ComputeSegmentArgs{SegmentID: uuid.Must(uuid.NewV7())}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCancelled, res.EventKind)
}

func TestDrainSegmentDirtyWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSegments(t)
	c := b.customer(t, `{"plan": "free"}`)
	seg := b.createSegment(t, "pro", proRule)
	_, err := (&segment.Service{DB: b.db}).Compute(ctx, seg.ID)
	require.NoError(t, err)

	// Ingest changes the trait and marks the customer dirty.
	_, err = b.db.Exec(`UPDATE customers SET traits = '{"plan": "pro"}' WHERE id = $1`, c)
	require.NoError(t, err)
	_, err = b.db.Exec(`INSERT INTO segment_dirty_customers (customer_id) VALUES ($1)`, c)
	require.NoError(t, err)
	// A busy queue: more than a batch of marks, most of them repeats (the queue is append-only).
	// One run drains it all.
	other := b.customer(t, `{"plan": "free"}`)
	_, err = b.db.Exec(`INSERT INTO segment_dirty_customers (customer_id) SELECT $1::uuid FROM generate_series(1, $2::int)`, other, 2*drainBatch+5)
	require.NoError(t, err)

	w := rivertest.NewWorker(t, b.driver, &river.Config{}, &DrainSegmentDirtyWorker{DB: b.db})
	tx, err := b.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	res, err := w.Work(ctx, t, tx, DrainSegmentDirtyArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	var n int
	require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM segment_memberships WHERE segment_id = $1 AND customer_id = $2 AND exited_at IS NULL`, seg.ID, c).Scan(&n))
	require.Equal(t, 1, n)
	require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM segment_dirty_customers`).Scan(&n))
	require.Zero(t, n)
}

func TestRefreshSegmentsEnqueuesDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSegments(t)
	due := b.createSegment(t, "due", proRule)
	fresh := b.createSegment(t, "fresh", proRule)
	// Both have computed; only "due" is older than its refresh interval; "failed" just failed.
	_, err := b.db.Exec(`UPDATE segments SET status = 'ready', last_computed_at = now() - interval '2 hours' WHERE id = $1`, due.ID)
	require.NoError(t, err)
	_, err = b.db.Exec(`UPDATE segments SET status = 'ready', last_computed_at = now() WHERE id = $1`, fresh.ID)
	require.NoError(t, err)
	failed := b.createSegment(t, "failed", proRule)
	_, err = b.db.Exec(`UPDATE segments SET status = 'failed', updated_at = now() WHERE id = $1`, failed.ID)
	require.NoError(t, err)
	_, err = b.db.Exec(`DELETE FROM river_job`)
	require.NoError(t, err)

	err = (&RefreshSegmentsWorker{DB: b.db}).Work(rivertest.WorkContext(ctx, b.client), &river.Job[RefreshSegmentsArgs]{})
	require.NoError(t, err)
	rivertest.RequireManyInserted(ctx, t, b.driver, []rivertest.ExpectedJob{{Args: ComputeSegmentArgs{SegmentID: due.ID}}})
}
