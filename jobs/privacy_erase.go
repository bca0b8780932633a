package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/queue"
)

// PrivacyEraseArgs carries out one erasure request (privacy.Service.Erase). The args name the
// request only, never the person, so the job row holds no identifier.
type PrivacyEraseArgs struct {
	RequestID uuid.UUID `json:"request_id"`
}

// Kind is the job's stable name.
func (PrivacyEraseArgs) Kind() string { return "privacy_erase" }

// InsertOpts make the job unique per request.
func (PrivacyEraseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWhileQueued}}
}

// PrivacyEraseWorker runs privacy.Service.Erase.
type PrivacyEraseWorker struct {
	river.WorkerDefaults[PrivacyEraseArgs]
	deps Deps
}

// Timeout allows a person with a very long history room (10k interactions take well under 2 s).
func (*PrivacyEraseWorker) Timeout(*river.Job[PrivacyEraseArgs]) time.Duration {
	return 10 * time.Minute
}

// Work erases; a request that no longer exists cancels the job.
func (w *PrivacyEraseWorker) Work(ctx context.Context, job *river.Job[PrivacyEraseArgs]) error {
	counts, err := w.deps.Privacy.Erase(ctx, job.Args.RequestID, job.ID)
	if errors.Is(err, privacy.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return giveUp(ctx, w.deps.Privacy, job.JobRow, job.Args.RequestID, "erase", fmt.Errorf("error erasing: %w", err))
	}
	w.deps.Log.InfoContext(ctx, "erasure completed", "request", job.Args.RequestID,
		"profiles", counts.Profiles, "interactions", counts.Interactions, "suppressed", counts.Suppressed)
	return nil
}

// PrivacyScheduler implements privacy.Scheduler with River's InsertTx.
type PrivacyScheduler struct {
	Client JobInserter
}

var _ privacy.Scheduler = PrivacyScheduler{}

// ScheduleErasure enqueues a PrivacyErase on tx.
func (s PrivacyScheduler) ScheduleErasure(ctx context.Context, tx *sql.Tx, request uuid.UUID) (*queue.Job, error) {
	res, err := s.Client.InsertTx(ctx, tx, PrivacyEraseArgs{RequestID: request}, nil)
	if err != nil {
		return nil, err
	}
	return JobFromRow(res.Job), nil
}

// ScheduleExport enqueues a PrivacyExport on tx.
func (s PrivacyScheduler) ScheduleExport(ctx context.Context, tx *sql.Tx, request uuid.UUID) (*queue.Job, error) {
	res, err := s.Client.InsertTx(ctx, tx, PrivacyExportArgs{RequestID: request}, nil)
	if err != nil {
		return nil, err
	}
	return JobFromRow(res.Job), nil
}
