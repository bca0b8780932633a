package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-cdp/cairn/internal/privacy"
)

// expireExportsEvery is how often documents past their expiry are deleted.
const expireExportsEvery = time.Hour

// PrivacyExportArgs builds the document of one export request (privacy.Service.BuildExport).
type PrivacyExportArgs struct {
	RequestID uuid.UUID `json:"request_id"`
}

// Kind is the job's stable name.
func (PrivacyExportArgs) Kind() string { return "privacy_export" }

// InsertOpts make the job unique per request.
func (PrivacyExportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWhileQueued}}
}

// PrivacyExportWorker runs privacy.Service.BuildExport.
type PrivacyExportWorker struct {
	river.WorkerDefaults[PrivacyExportArgs]
	deps Deps
}

// Work builds the document; a request that no longer exists cancels the job.
func (w *PrivacyExportWorker) Work(ctx context.Context, job *river.Job[PrivacyExportArgs]) error {
	err := w.deps.Privacy.BuildExport(ctx, job.Args.RequestID)
	if errors.Is(err, privacy.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return giveUp(ctx, w.deps.Privacy, job.JobRow, job.Args.RequestID, "export", fmt.Errorf("error building export: %w", err))
	}
	return nil
}

// ExpireExportsArgs deletes export documents past their expiry (periodic).
type ExpireExportsArgs struct{}

// Kind is the job's stable name.
func (ExpireExportsArgs) Kind() string { return "privacy_expire_exports" }

// ExpireExportsWorker runs privacy.Service.DeleteExpiredExports.
type ExpireExportsWorker struct {
	river.WorkerDefaults[ExpireExportsArgs]
	deps Deps
}

// Work deletes the expired documents.
func (w *ExpireExportsWorker) Work(ctx context.Context, _ *river.Job[ExpireExportsArgs]) error {
	n, err := w.deps.Privacy.DeleteExpiredExports(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.deps.Log.InfoContext(ctx, "expired exports deleted", "documents", n)
	}
	return nil
}

// registerPrivacyWorkers adds the privacy workers when deps has a privacy service.
func registerPrivacyWorkers(workers *river.Workers, deps Deps) (int, error) {
	if deps.Privacy == nil {
		return 0, nil
	}
	if err := river.AddWorkerSafely(workers, &PrivacyEraseWorker{deps: deps}); err != nil {
		return 0, fmt.Errorf("error registering the privacy_erase worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &PrivacyExportWorker{deps: deps}); err != nil {
		return 0, fmt.Errorf("error registering the privacy_export worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &ExpireExportsWorker{deps: deps}); err != nil {
		return 0, fmt.Errorf("error registering the privacy_expire_exports worker: %w", err)
	}
	return 3, nil
}

// privacyPeriodicJobs is the hourly expiry of export documents.
func privacyPeriodicJobs(deps Deps) []*river.PeriodicJob {
	if deps.Privacy == nil {
		return nil
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(expireExportsEvery),
		func() (river.JobArgs, *river.InsertOpts) { return ExpireExportsArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)}
}

// giveUp returns err for River to retry, and on the last attempt first marks the request
// failed, so it does not stay pending forever. The stored reason is generic: err may quote
// database errors, which can hold values.
func giveUp(ctx context.Context, p *privacy.Service, job *rivertype.JobRow, request uuid.UUID, kind string, err error) error {
	if job.Attempt < job.MaxAttempts {
		return err
	}
	if ferr := p.FailRequest(ctx, request, kind, "the job failed after "+strconv.Itoa(job.Attempt)+" attempts; see the job's errors"); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}
