package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-cdp/cairn/internal/queue"
)

// JobGetter reads a River job by id (the River client's JobGet).
type JobGetter interface {
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// Reader implements queue.Reader on River.
type Reader struct {
	Client JobGetter
}

var _ queue.Reader = Reader{}

// Job returns the River job id as a queue.Job.
func (r Reader) Job(ctx context.Context, id int64) (*queue.Job, error) {
	row, err := r.Client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, fmt.Errorf("%w: %d", queue.ErrJobNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("error loading job: %w", err)
	}
	return JobFromRow(row), nil
}

// JobFromRow converts a River job row to a queue.Job.
func JobFromRow(j *rivertype.JobRow) *queue.Job {
	errs := make([]string, 0, len(j.Errors))
	for _, e := range j.Errors {
		errs = append(errs, e.Error)
	}
	return &queue.Job{
		ID:          j.ID,
		Kind:        j.Kind,
		State:       string(j.State),
		Attempt:     j.Attempt,
		MaxAttempts: j.MaxAttempts,
		Errors:      errs,
		CreatedAt:   j.CreatedAt,
		ScheduledAt: j.ScheduledAt,
		FinalizedAt: j.FinalizedAt,
	}
}
