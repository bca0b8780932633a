package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/privacy"
)

// Destination work of privacy requests: CampaignErase (permanent delete of an erased person at
// one destination) and CampaignWithdraw (removal after an email_marketing withdrawal). Both are
// enqueued by campaign.Privacy in the transaction of the erasure or consent change, retry with
// River's backoff, and complete with a log line when their destination was deleted.

// CampaignEraseArgs erases emails at one destination. Emails is sealed (secret.Box through the
// destinations' Sealer): erasure leaves no identifier in river_job.
type CampaignEraseArgs struct {
	DestinationID uuid.UUID `json:"destination_id"`
	Emails        string    `json:"emails"`
}

// Kind is the job's stable name.
func (CampaignEraseArgs) Kind() string { return "campaign_erase" }

// InsertOpts tag the job privacy_sealed: an erasure's cleanup of river_job (which drops jobs
// whose text holds any identifier of the person) spares it.
func (CampaignEraseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Tags: []string{"privacy_sealed"}}
}

// CampaignWithdrawArgs removes a person from one destination (campaign.Withdrawal). It names
// profiles by id only.
type CampaignWithdrawArgs campaign.Withdrawal

// Kind is the job's stable name.
func (CampaignWithdrawArgs) Kind() string { return "campaign_withdraw" }

// CampaignEraseWorker runs campaign.Privacy.Erase.
type CampaignEraseWorker struct {
	river.WorkerDefaults[CampaignEraseArgs]
	deps    Deps
	privacy *campaign.Privacy
}

// Work erases; it waits (snoozes) while a sync begun before the erasure runs on the destination.
func (w *CampaignEraseWorker) Work(ctx context.Context, job *river.Job[CampaignEraseArgs]) error {
	err := w.privacy.Erase(ctx, job.Args.DestinationID, job.Args.Emails, job.CreatedAt)
	switch {
	case errors.Is(err, campaign.ErrNotFound):
		w.deps.Log.InfoContext(ctx, "campaign erase: the destination no longer exists, nothing to erase there",
			"destination", job.Args.DestinationID, "job", job.ID)
		return nil
	case errors.Is(err, campaign.ErrSyncInFlight):
		return river.JobSnooze(conflictSnooze)
	}
	return err
}

// CampaignWithdrawWorker runs campaign.Privacy.Withdraw.
type CampaignWithdrawWorker struct {
	river.WorkerDefaults[CampaignWithdrawArgs]
	deps    Deps
	privacy *campaign.Privacy
}

// Work removes the person at the destination.
func (w *CampaignWithdrawWorker) Work(ctx context.Context, job *river.Job[CampaignWithdrawArgs]) error {
	err := w.privacy.Withdraw(ctx, campaign.Withdrawal(job.Args))
	if errors.Is(err, campaign.ErrNotFound) {
		w.deps.Log.InfoContext(ctx, "campaign withdraw: the destination no longer exists, nothing to remove there",
			"destination", job.Args.DestinationID, "job", job.ID)
		return nil
	}
	return err
}

// CampaignPrivacyQueue implements campaign.PrivacyQueue with River's InsertTx.
type CampaignPrivacyQueue struct {
	Client JobInserter
}

var _ campaign.PrivacyQueue = (*CampaignPrivacyQueue)(nil)

// EnqueueErase enqueues a CampaignErase on tx.
func (q *CampaignPrivacyQueue) EnqueueErase(ctx context.Context, tx *sql.Tx, destination uuid.UUID, sealedEmails string) error {
	if q.Client == nil {
		return errors.New("no job client configured")
	}
	_, err := q.Client.InsertTx(ctx, tx, CampaignEraseArgs{DestinationID: destination, Emails: sealedEmails}, nil)
	return err
}

// EnqueueWithdraw enqueues a CampaignWithdraw on tx.
func (q *CampaignPrivacyQueue) EnqueueWithdraw(ctx context.Context, tx *sql.Tx, w campaign.Withdrawal) error {
	if q.Client == nil {
		return errors.New("no job client configured")
	}
	_, err := q.Client.InsertTx(ctx, tx, CampaignWithdrawArgs(w), nil)
	return err
}

func registerCampaignPrivacyWorkers(workers *river.Workers, deps Deps) (int, error) {
	dests := deps.Destinations
	if dests == nil {
		dests = &campaign.Destinations{}
	}
	p := &campaign.Privacy{DB: deps.DB, Destinations: dests}
	if err := river.AddWorkerSafely(workers, &CampaignEraseWorker{deps: deps, privacy: p}); err != nil {
		return 0, fmt.Errorf("error registering the campaign_erase worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &CampaignWithdrawWorker{deps: deps, privacy: p}); err != nil {
		return 0, fmt.Errorf("error registering the campaign_withdraw worker: %w", err)
	}
	return 2, nil
}

var _ privacy.Destinations = (*campaign.Privacy)(nil)
var _ privacy.DestinationExporter = (*campaign.Privacy)(nil)
