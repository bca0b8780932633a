package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Campaign jobs: CampaignSync (one run of one campaign) and EnqueueDueCampaigns (periodic:
// enqueue the scheduled slots that are due).
const (
	enqueueDueCampaignsEvery = 10 * time.Second
	dueCampaignsBatch        = 500
	// conflictSnooze is how long a sync waits when another run of its campaign is in progress.
	conflictSnooze = 15 * time.Second
)

// CampaignSyncArgs runs one sync of a campaign. A scheduled run carries its slot and is
// unique per (campaign, slot) in every state River keeps, completed included, so however many
// workers enqueue or fetch it, a slot runs once. A delta run (trigger segment) is coalesced by
// ScheduleSync instead: River's unique states must include running, which would drop a change
// made while a sync runs. Manual runs are not unique; a run that finds another in progress
// waits for it (snooze).
type CampaignSyncArgs struct {
	CampaignID uuid.UUID  `json:"campaign_id"`
	Trigger    string     `json:"trigger"`
	Slot       *time.Time `json:"slot,omitempty"`
}

// Kind is the job's stable name.
func (CampaignSyncArgs) Kind() string { return "campaign_sync" }

// InsertOpts makes a scheduled slot unique.
func (a CampaignSyncArgs) InsertOpts() river.InsertOpts {
	if a.Slot == nil {
		return river.InsertOpts{}
	}
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// CampaignSyncWorker runs campaign.Syncer.
type CampaignSyncWorker struct {
	river.WorkerDefaults[CampaignSyncArgs]
	Syncer *campaign.Syncer
}

// Work syncs the campaign. The job's id makes a retry resume the sync row its earlier attempt
// left running; the last attempt fails the row instead.
func (w *CampaignSyncWorker) Work(ctx context.Context, job *river.Job[CampaignSyncArgs]) error {
	id := job.ID
	_, err := w.Syncer.Run(ctx, job.Args.CampaignID, campaign.RunOptions{
		Trigger: campaign.Trigger(job.Args.Trigger),
		Slot:    job.Args.Slot,
		JobID:   &id,
		Final:   job.Attempt >= job.MaxAttempts,
	})
	switch {
	case errors.Is(err, campaign.ErrSkipped):
		return nil
	case errors.Is(err, campaign.ErrNotFound), errors.Is(err, campaign.ErrInvalidInput):
		return river.JobCancel(err)
	case errors.Is(err, campaign.ErrConflict):
		return river.JobSnooze(conflictSnooze)
	}
	return err
}

// EnqueueDueCampaignsArgs enqueues a CampaignSync for every scheduled campaign whose
// next_run_at has come, advancing next_run_at in the same transaction.
type EnqueueDueCampaignsArgs struct{}

// Kind is the job's stable name.
func (EnqueueDueCampaignsArgs) Kind() string { return "enqueue_due_campaigns" }

// InsertOpts keeps one queued at a time.
func (EnqueueDueCampaignsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: uniqueWhileQueued}}
}

// EnqueueDueCampaignsWorker enqueues due slots.
type EnqueueDueCampaignsWorker struct {
	river.WorkerDefaults[EnqueueDueCampaignsArgs]
	DB *sql.DB
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Work takes due campaigns and enqueues their slots in one transaction, batch by batch.
func (w *EnqueueDueCampaignsWorker) Work(ctx context.Context, _ *river.Job[EnqueueDueCampaignsArgs]) error {
	client, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return err
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	_, err = EnqueueDueCampaigns(ctx, w.DB, client, now())
	return err
}

// EnqueueDueCampaigns enqueues the slots due at now on ins and returns how many it enqueued.
func EnqueueDueCampaigns(ctx context.Context, db *sql.DB, ins JobInserter, now time.Time) (int, error) {
	total := 0
	for {
		var n int
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return total, fmt.Errorf("error beginning transaction: %w", err)
		}
		slots, err := campaign.TakeDue(ctx, tx, now, dueCampaignsBatch)
		if err == nil {
			for _, s := range slots {
				at := s.At.UTC()
				if _, err = ins.InsertTx(ctx, tx, CampaignSyncArgs{CampaignID: s.CampaignID, Trigger: string(campaign.TriggerSchedule), Slot: &at}, nil); err != nil {
					err = fmt.Errorf("error enqueuing campaign sync: %w", err)
					break
				}
			}
		}
		if err != nil {
			_ = tx.Rollback()
			return total, err
		}
		if err := tx.Commit(); err != nil {
			return total, fmt.Errorf("error committing due campaigns: %w", err)
		}
		n = len(slots)
		total += n
		if n < dueCampaignsBatch {
			return total, nil
		}
	}
}

// scheduleDeltaSync enqueues a delta sync of an active campaign (scheduled, and synced at least
// once) on tx, unless one is already waiting: a waiting sync reads the audience when it runs,
// so it covers this change too. A transaction-scoped advisory lock per campaign serialises the
// check and the insert, so concurrent segment changes leave at most one waiting.
func scheduleDeltaSync(ctx context.Context, tx *sql.Tx, ins JobInserter, campaignID uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('campaign_sync:' || $1, 0))`, campaignID.String()); err != nil {
		return fmt.Errorf("error locking campaign sync queue: %w", err)
	}
	var active, waiting bool
	err := tx.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $1 AND c.status = 'scheduled'
		        AND EXISTS (SELECT 1 FROM campaign_syncs s WHERE s.campaign_id = c.id AND s.status = 'succeeded')),
		EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'campaign_sync'
		        AND j.state IN ('available', 'pending', 'retryable', 'scheduled')
		        AND j.args @> jsonb_build_object('campaign_id', $2::text, 'trigger', 'segment'))`,
		campaignID, campaignID.String()).Scan(&active, &waiting)
	if err != nil {
		return fmt.Errorf("error checking campaign sync queue: %w", err)
	}
	if !active || waiting {
		return nil
	}
	_, err = ins.InsertTx(ctx, tx, CampaignSyncArgs{CampaignID: campaignID, Trigger: string(campaign.TriggerSegment)}, nil)
	return err
}

// CampaignJobs enqueues campaign syncs for the API (runCampaignSync).
type CampaignJobs struct {
	Client JobInserter
	DB     *sql.DB
}

// RunSync enqueues a manual sync of the campaign and returns its job.
func (c CampaignJobs) RunSync(ctx context.Context, campaignID uuid.UUID) (*queue.Job, error) {
	var job *queue.Job
	err := txn.Run(ctx, c.DB, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		res, err := c.Client.InsertTx(ctx, tx, CampaignSyncArgs{CampaignID: campaignID, Trigger: string(campaign.TriggerManual)}, nil)
		if err != nil {
			return fmt.Errorf("error enqueuing campaign sync: %w", err)
		}
		job = JobFromRow(res.Job)
		return nil
	})
	return job, err
}

func registerCampaignWorkers(workers *river.Workers, deps Deps) (int, error) {
	dests := deps.Destinations
	if dests == nil {
		dests = &campaign.Destinations{}
	}
	syncer := &campaign.Syncer{DB: deps.DB, Destinations: dests, Tracking: deps.Tracking}
	if err := river.AddWorkerSafely(workers, &CampaignSyncWorker{Syncer: syncer}); err != nil {
		return 0, fmt.Errorf("error registering the campaign_sync worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &EnqueueDueCampaignsWorker{DB: deps.DB}); err != nil {
		return 0, fmt.Errorf("error registering the enqueue_due_campaigns worker: %w", err)
	}
	return 2, nil
}

func campaignPeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(enqueueDueCampaignsEvery),
			func() (river.JobArgs, *river.InsertOpts) { return EnqueueDueCampaignsArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
}

// Timeout lets a large first sync outlast the client's default job timeout; a run stopped by
// it resumes on the next attempt.
func (w *CampaignSyncWorker) Timeout(*river.Job[CampaignSyncArgs]) time.Duration { return time.Hour }
