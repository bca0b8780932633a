package rfm

import (
	"context"

	"github.com/cairn-cdp/cairn/internal/queue"
)

// Scheduler enqueues a full RFM computation (jobs/ implements it on River). At most one is
// queued or running at a time: a request while one is returns that job.
type Scheduler interface {
	ScheduleCompute(ctx context.Context) (*queue.Job, error)
}
