package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/queue"
)

// ApplyRetentionAt is the time of day (UTC) of the daily ApplyRetention.
const ApplyRetentionAt = 3 * time.Hour

// ApplyRetentionArgs applies every enabled retention policy (internal/privacy).
type ApplyRetentionArgs struct{}

// Kind is the job's stable name.
func (ApplyRetentionArgs) Kind() string { return "apply_retention" }

// InsertOpts make the job unique while queued or running: runRetention during a sweep, or the
// daily tick while one is pending, returns the job already there.
func (ApplyRetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: uniqueWhileQueued}}
}

// ApplyRetentionWorker runs a retention sweep.
type ApplyRetentionWorker struct {
	river.WorkerDefaults[ApplyRetentionArgs]
	retention *privacy.Retention
	deps      Deps
}

// NewApplyRetentionWorker returns the worker on deps, recording progress in metrics (nil: none).
func NewApplyRetentionWorker(deps Deps, metrics *privacy.RetentionMetrics) *ApplyRetentionWorker {
	return &ApplyRetentionWorker{
		retention: privacy.NewRetention(deps.DB, &privacy.RetentionOptions{Metrics: metrics, Log: deps.Log}),
		deps:      deps,
	}
}

// Timeout gives a sweep of millions of rows room; one cut short resumes on its next run.
func (*ApplyRetentionWorker) Timeout(*river.Job[ApplyRetentionArgs]) time.Duration {
	return 6 * time.Hour
}

// Work sweeps every enabled policy. A sweep already running elsewhere makes this one a no-op.
func (w *ApplyRetentionWorker) Work(ctx context.Context, _ *river.Job[ApplyRetentionArgs]) error {
	res, err := w.retention.Sweep(ctx, nil)
	if errors.Is(err, privacy.ErrSweepRunning) {
		w.deps.Log.InfoContext(ctx, "retention sweep skipped: another is running")
		return nil
	}
	if err != nil {
		return fmt.Errorf("error applying retention: %w", err)
	}
	w.deps.Log.InfoContext(ctx, "retention applied", "policies", len(res.Policies), "rows", res.Rows,
		"customers_removed", res.CustomersRemoved, "duration", res.Duration)
	return nil
}

// applyRetentionPeriodic is the daily run at ApplyRetentionAt. A wall-clock schedule, not an
// interval: an interval restarts with the leader, so servers restarted more often than daily
// would never sweep.
func applyRetentionPeriodic() *river.PeriodicJob {
	return river.NewPeriodicJob(
		dailyAt(ApplyRetentionAt),
		func() (river.JobArgs, *river.InsertOpts) { return ApplyRetentionArgs{}, nil },
		nil,
	)
}

// dailyAt is a river.PeriodicSchedule firing once a day at that offset from UTC midnight.
type dailyAt time.Duration

// Next is the first firing strictly after current.
func (d dailyAt) Next(current time.Time) time.Time {
	t := current.UTC().Truncate(24 * time.Hour).Add(time.Duration(d))
	if !t.After(current) {
		t = t.Add(24 * time.Hour)
	}
	return t
}

// RetentionScheduler implements privacy.RetentionScheduler with River's Insert.
type RetentionScheduler struct {
	Client JobEnqueuer
}

var _ privacy.RetentionScheduler = RetentionScheduler{}

// ScheduleRetention enqueues an ApplyRetention and returns its job (the one already queued,
// when one is).
func (s RetentionScheduler) ScheduleRetention(ctx context.Context) (*queue.Job, error) {
	res, err := s.Client.Insert(ctx, ApplyRetentionArgs{}, nil)
	if err != nil {
		return nil, err
	}
	return JobFromRow(res.Job), nil
}
