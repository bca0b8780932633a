package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	entcampaign "github.com/cairn-cdp/cairn/ent/campaign"
	"github.com/cairn-cdp/cairn/ent/campaignsync"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/textcut"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func (s *Syncer) recordCommon(ctx context.Context, tx *sql.Tx, campaignID, syncID uuid.UUID, o outcome) error {
	if len(o.failedIDs) > 0 {
		if _, err := tx.ExecContext(ctx, queries["fail-contacts"], campaignID, syncID,
			pq.Array(o.failedIDs), pq.Array(o.failedEmails), pq.Array(o.failedErrs)); err != nil {
			return fmt.Errorf("error recording rejected contacts: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, queries["add-counts"], syncID, o.added, o.updated, o.removed, len(o.failedIDs)); err != nil {
		return fmt.Errorf("error counting sync: %w", err)
	}
	return nil
}

// finish marks the run succeeded, completes a one-off (at) campaign after its slot, and audits
// the run, in one transaction.
func (s *Syncer) finish(ctx context.Context, c *ent.Campaign, run *ent.CampaignSync, opts RunOptions) (*ent.CampaignSync, error) {
	var done *ent.CampaignSync
	err := txn.Run(context.WithoutCancel(ctx), s.DB, func(ctx context.Context, _ *sql.Tx, client *ent.Client) error {
		var err error
		done, err = client.CampaignSync.UpdateOneID(run.ID).SetStatus(campaignsync.StatusSucceeded).
			SetFinishedAt(time.Now()).ClearError().Save(ctx)
		if err != nil {
			return fmt.Errorf("error finishing sync: %w", err)
		}
		if opts.Trigger == TriggerSchedule && c.ScheduleKind != nil && *c.ScheduleKind == entcampaign.ScheduleKindAt {
			if err := client.Campaign.Update().Where(entcampaign.ID(c.ID), entcampaign.StatusEQ(entcampaign.StatusScheduled)).
				SetStatus(entcampaign.StatusCompleted).ClearNextRunAt().Exec(ctx); err != nil {
				return fmt.Errorf("error completing campaign: %w", err)
			}
		}
		return audit.Record(ctx, client, runEvent(c, done, opts))
	})
	return done, err
}

// fail records err on the run: left running for the next attempt to resume, or failed (and
// audited) on the last attempt. It returns err.
func (s *Syncer) fail(ctx context.Context, c *ent.Campaign, run *ent.CampaignSync, opts RunOptions, cause error) (*ent.CampaignSync, error) {
	msg := textcut.Prefix(strings.ToValidUTF8(cause.Error(), "\uFFFD"), 1000)
	var out *ent.CampaignSync
	err := txn.Run(context.WithoutCancel(ctx), s.DB, func(ctx context.Context, _ *sql.Tx, client *ent.Client) error {
		u := client.CampaignSync.UpdateOneID(run.ID).SetError(msg)
		if opts.Final {
			u.SetStatus(campaignsync.StatusFailed).SetFinishedAt(time.Now())
		}
		var err error
		if out, err = u.Save(ctx); err != nil {
			return err
		}
		if !opts.Final {
			return nil
		}
		return audit.Record(ctx, client, runEvent(c, out, opts))
	})
	if err != nil {
		return out, fmt.Errorf("%w (and recording it failed: %v)", cause, err)
	}
	return out, cause
}

// runEvent is the audit record of a finished run: counts only, never contacts.
func runEvent(c *ent.Campaign, run *ent.CampaignSync, opts RunOptions) audit.Event {
	return audit.Event{
		Action:     "campaign.sync",
		TargetType: "campaign",
		TargetID:   c.ID.String(),
		Details: map[string]any{
			"sync": run.ID.String(), "destination": c.DestinationID.String(), "trigger": string(opts.Trigger),
			"status": string(run.Status), "added": run.Added, "updated": run.Updated, "removed": run.Removed,
			"failed": run.Failed, "skipped_no_email": run.SkippedNoEmail, "skipped_no_consent": run.SkippedNoConsent,
		},
	}
}
