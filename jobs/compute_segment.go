package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/segment"
)

// Segment jobs: ComputeSegment (one segment, full), RefreshSegments (periodic: enqueue the
// segments that are due) and DrainSegmentDirty (periodic, every second: incremental
// re-evaluation of customers ingest marked dirty).
const (
	refreshSegmentsEvery = 15 * time.Second
	drainDirtyEvery      = time.Second
	drainBatch           = 1000
	// dueBatch bounds the computations one RefreshSegments enqueues; the rest wait a tick.
	dueBatch = 1000
	// drainBudget bounds one drain job; what is left waits for the next tick.
	drainBudget = 5 * time.Second
)

// uniqueWhileQueued makes a job unique while one is waiting or running, and lets a new one in
// once it finished (completed is left out of River's default states on purpose).
var uniqueWhileQueued = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// ComputeSegmentArgs computes one segment's membership diff. Unique per segment: no two
// computations of one segment are queued or run at once (a request while one runs is dropped;
// RefreshSegments re-enqueues a segment left pending by a rule change made meanwhile).
type ComputeSegmentArgs struct {
	SegmentID uuid.UUID `json:"segment_id"`
}

// Kind is the job's stable name.
func (ComputeSegmentArgs) Kind() string { return "compute_segment" }

// InsertOpts makes the job unique per segment.
func (ComputeSegmentArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWhileQueued}}
}

// ComputeSegmentWorker runs segment.Service.Compute.
type ComputeSegmentWorker struct {
	river.WorkerDefaults[ComputeSegmentArgs]
	DB *sql.DB
}

// Work computes the segment; a deleted segment cancels the job.
func (w *ComputeSegmentWorker) Work(ctx context.Context, job *river.Job[ComputeSegmentArgs]) error {
	svc := &segment.Service{DB: w.DB, Scheduler: schedulerFromContext(ctx)}
	_, err := svc.Compute(ctx, job.Args.SegmentID)
	if errors.Is(err, segment.ErrNotFound) || errors.Is(err, segment.ErrInvalidRule) {
		return river.JobCancel(err)
	}
	return err
}

// RefreshSegmentsArgs enqueues a ComputeSegment for every segment that is due: pending (new or
// rule changed), last computed refresh_every_seconds ago or more, or failed that long ago.
type RefreshSegmentsArgs struct{}

// Kind is the job's stable name.
func (RefreshSegmentsArgs) Kind() string { return "refresh_segments" }

// InsertOpts keeps one refresh queued at a time.
func (RefreshSegmentsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: uniqueWhileQueued}}
}

// RefreshSegmentsWorker enqueues due segments.
type RefreshSegmentsWorker struct {
	river.WorkerDefaults[RefreshSegmentsArgs]
	DB *sql.DB
}

// Work enqueues the due segments in one transaction (duplicates are skipped by uniqueness).
func (w *RefreshSegmentsWorker) Work(ctx context.Context, _ *river.Job[RefreshSegmentsArgs]) error {
	client, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return err
	}
	tx, err := w.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("error beginning transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	ids, err := segment.Due(ctx, tx, dueBatch)
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, 0, len(ids))
	for _, id := range ids {
		params = append(params, river.InsertManyParams{Args: ComputeSegmentArgs{SegmentID: id}})
	}
	if len(params) > 0 {
		if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("error enqueuing segment computations: %w", err)
		}
	}
	return tx.Commit()
}

// DrainSegmentDirtyArgs re-evaluates every segment for the customers in
// segment_dirty_customers, in batches, so a customer's new event shows in Customer.segments
// within seconds of ingest. One runs at a time.
type DrainSegmentDirtyArgs struct{}

// Kind is the job's stable name.
func (DrainSegmentDirtyArgs) Kind() string { return "drain_segment_dirty" }

// InsertOpts keeps one drain queued at a time.
func (DrainSegmentDirtyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: uniqueWhileQueued}}
}

// DrainSegmentDirtyWorker runs segment.Service.Drain until the queue is empty or its time
// budget is spent.
type DrainSegmentDirtyWorker struct {
	river.WorkerDefaults[DrainSegmentDirtyArgs]
	DB *sql.DB
}

// Work drains batches of drainBatch queued marks.
func (w *DrainSegmentDirtyWorker) Work(ctx context.Context, _ *river.Job[DrainSegmentDirtyArgs]) error {
	svc := &segment.Service{DB: w.DB, Scheduler: schedulerFromContext(ctx)}
	deadline := time.Now().Add(drainBudget)
	for time.Now().Before(deadline) {
		res, err := svc.Drain(ctx, drainBatch)
		if err != nil {
			return err
		}
		if res.Marks < drainBatch { // marks, not customers: a full batch may repeat customers
			return nil
		}
	}
	return nil
}

// JobInserter enqueues River jobs on a transaction (the River client's InsertTx).
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// SegmentScheduler implements segment.Scheduler with River's InsertTx.
type SegmentScheduler struct {
	Client JobInserter
}

var _ segment.Scheduler = SegmentScheduler{}

// ScheduleCompute enqueues a ComputeSegment on tx and returns its job (the one already
// queued, when one is: the job is unique per segment).
func (s SegmentScheduler) ScheduleCompute(ctx context.Context, tx *sql.Tx, segmentID uuid.UUID) (*queue.Job, error) {
	res, err := s.Client.InsertTx(ctx, tx, ComputeSegmentArgs{SegmentID: segmentID}, nil)
	if err != nil {
		return nil, err
	}
	return JobFromRow(res.Job), nil
}

// ScheduleSync enqueues a delta sync of the campaign on tx (see scheduleDeltaSync).
func (s SegmentScheduler) ScheduleSync(ctx context.Context, tx *sql.Tx, campaignID uuid.UUID) error {
	return scheduleDeltaSync(ctx, tx, s.Client, campaignID)
}

// schedulerFromContext returns the scheduler of the River client running the job (nil outside
// a client, e.g. in a bare worker test).
func schedulerFromContext(ctx context.Context) segment.Scheduler {
	client, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return nil
	}
	return SegmentScheduler{Client: client}
}

func registerSegmentWorkers(workers *river.Workers, deps Deps) (int, error) {
	if err := river.AddWorkerSafely(workers, &ComputeSegmentWorker{DB: deps.DB}); err != nil {
		return 0, err
	}
	if err := river.AddWorkerSafely(workers, &RefreshSegmentsWorker{DB: deps.DB}); err != nil {
		return 0, err
	}
	if err := river.AddWorkerSafely(workers, &DrainSegmentDirtyWorker{DB: deps.DB}); err != nil {
		return 0, err
	}
	return 3, nil
}

func segmentPeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(refreshSegmentsEvery),
			func() (river.JobArgs, *river.InsertOpts) { return RefreshSegmentsArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(drainDirtyEvery),
			func() (river.JobArgs, *river.InsertOpts) { return DrainSegmentDirtyArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
}
