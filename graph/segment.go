package graph

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-cdp/cairn/internal/segment"
	"github.com/cairn-cdp/cairn/jobs"
)

// JobInserter enqueues River jobs on a transaction (the River client's InsertTx).
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// segmentScheduler adapts a JobInserter to segment.Scheduler for the segment mutations.
type segmentScheduler struct{ jobs JobInserter }

func (s segmentScheduler) ScheduleCompute(ctx context.Context, tx *sql.Tx, id uuid.UUID) error {
	_, err := s.jobs.InsertTx(ctx, tx, jobs.ComputeSegmentArgs{SegmentID: id}, nil)
	return err
}

// ScheduleSync is not used by the mutations (only computations change memberships).
func (s segmentScheduler) ScheduleSync(context.Context, *sql.Tx, uuid.UUID) error { return nil }

func (r *Resolver) segmentScheduler() segment.Scheduler {
	if r.SegmentJobs == nil {
		return nil
	}
	return segmentScheduler{r.SegmentJobs}
}

func (r *Resolver) segments() *segment.Service { return &segment.Service{DB: r.DB} }
