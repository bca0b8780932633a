package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/rfm"
)

// ComputeRFMEvery is how often the periodic ComputeRFM runs.
const ComputeRFMEvery = time.Hour

// ComputeRFMArgs recomputes every customer's RFM scores (internal/rfm).
type ComputeRFMArgs struct {
	// WindowDays overrides how many days back orders count; 0 means rfm.DefaultWindow.
	WindowDays int `json:"window_days,omitempty"`
}

// Kind is the job's stable name.
func (ComputeRFMArgs) Kind() string { return "compute_rfm" }

// InsertOpts make the job unique per kind while queued or running, whatever its args: a
// computeRFM mutation during a run, or a periodic tick while one is pending, returns the job
// already there instead of queueing a second full computation. Completed jobs are left out of
// the states so the next hourly run is not blocked until River cleans the last one up.
func (ComputeRFMArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		UniqueOpts: river.UniqueOpts{ByState: uniqueWhileQueued},
	}
}

// ComputeRFMWorker runs ComputeRFM.
type ComputeRFMWorker struct {
	river.WorkerDefaults[ComputeRFMArgs]
	deps Deps
}

// maxWindowDays bounds ComputeRFMArgs.WindowDays (ten years).
const maxWindowDays = 3650

// NewComputeRFMWorker returns the worker on deps.
func NewComputeRFMWorker(deps Deps) *ComputeRFMWorker { return &ComputeRFMWorker{deps: deps} }

// Timeout allows a computation over millions of customers plenty of room.
func (*ComputeRFMWorker) Timeout(*river.Job[ComputeRFMArgs]) time.Duration { return 30 * time.Minute }

// Work scores every customer as of now.
func (w *ComputeRFMWorker) Work(ctx context.Context, job *river.Job[ComputeRFMArgs]) error {
	// Bad args never get better on retry: cancel instead. The cap also keeps the window's
	// Duration from overflowing.
	if job.Args.WindowDays < 0 || job.Args.WindowDays > maxWindowDays {
		return river.JobCancel(fmt.Errorf("window_days must be between 0 and %d, got %d", maxWindowDays, job.Args.WindowDays))
	}
	res, err := rfm.New(w.deps.DB).Compute(ctx, &rfm.ComputeOpts{
		Window: time.Duration(job.Args.WindowDays) * 24 * time.Hour,
	})
	if errors.Is(err, rfm.ErrInvalidInput) {
		return river.JobCancel(err)
	}
	if err != nil {
		return fmt.Errorf("error computing RFM: %w", err)
	}
	w.deps.Log.InfoContext(ctx, "RFM computed",
		"scored", res.Scored, "updated", res.Updated, "cleared", res.Cleared, "batches", res.Batches,
		"window_days", int(res.Window/(24*time.Hour)), "scoring", res.Scoring, "writing", res.Writing,
		"duration", res.Duration)
	return nil
}

// computeRFMPeriodic is the hourly run; it also runs when the leader starts, so a fresh install
// or a long outage does not wait an hour for scores.
func computeRFMPeriodic() *river.PeriodicJob {
	return river.NewPeriodicJob(
		river.PeriodicInterval(ComputeRFMEvery),
		func() (river.JobArgs, *river.InsertOpts) { return ComputeRFMArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)
}

// JobEnqueuer enqueues a River job on its own transaction (the River client's Insert).
type JobEnqueuer interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// RFMScheduler implements rfm.Scheduler with River's Insert.
type RFMScheduler struct {
	Client JobEnqueuer
}

var _ rfm.Scheduler = RFMScheduler{}

// ScheduleCompute enqueues a ComputeRFM and returns its job (the one already queued, when one
// is: the job is unique while queued or running).
func (s RFMScheduler) ScheduleCompute(ctx context.Context) (*queue.Job, error) {
	res, err := s.Client.Insert(ctx, ComputeRFMArgs{}, nil)
	if err != nil {
		return nil, err
	}
	return JobFromRow(res.Job), nil
}
