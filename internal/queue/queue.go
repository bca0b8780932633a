// Package queue is the face of Cairn's job queue that layers above the domain see: a job as
// the API reports it, the error for a job that does not exist, and the small interface that
// reads jobs. It knows nothing of River; jobs/ implements it on River and cmd plugs that in, so
// graph never imports jobs or River.
package queue

import (
	"context"
	"errors"
	"time"
)

// ErrJobNotFound is returned for a job id the queue does not hold (never inserted, or
// finished and removed by retention).
var ErrJobNotFound = errors.New("job not found")

// Job is one queued, running or finished job.
type Job struct {
	ID          int64
	Kind        string // the job's stable name, e.g. "compute_segment"
	State       string // available, scheduled, running, retryable, completed, cancelled, discarded
	Attempt     int
	MaxAttempts int
	Errors      []string // one per failed attempt, oldest first
	CreatedAt   time.Time
	ScheduledAt time.Time
	FinalizedAt *time.Time // nil until completed, cancelled or discarded
}

// Reader reads a job by id.
type Reader interface {
	// Job returns the job, or an error wrapping ErrJobNotFound.
	Job(ctx context.Context, id int64) (*Job, error)
}
