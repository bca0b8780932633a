package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	entcampaign "github.com/cairn-cdp/cairn/ent/campaign"
	"github.com/cairn-cdp/cairn/ent/campaignsync"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// DefaultBatchSize is the contacts per provider call (Mailchimp's batch limit).
const DefaultBatchSize = 500

// Trigger says why a sync runs.
type Trigger string

// Triggers of a sync.
const (
	TriggerManual   Trigger = "manual"   // runCampaignSync: runs whatever the campaign's status
	TriggerSchedule Trigger = "schedule" // a scheduled slot
	TriggerSegment  Trigger = "segment"  // the segment's membership changed (a delta)
)

// ErrSkipped is returned by Run when the campaign's status does not allow the trigger (a
// paused campaign's slot, a delta for a campaign never synced); nothing was recorded.
var ErrSkipped = errors.New("campaign sync skipped")

// Syncer runs audience syncs.
//
// A run diffs the campaign's audience (current segment members with an email and a granted
// email_marketing consent) against its snapshot, first removals then upserts, in keyset pages
// of BatchSize, one provider call per page. After each call it records in one short
// transaction what the provider confirmed (snapshot rows, sync counts) and what it rejected
// (snapshot rows in state failed, left alone for the rest of the run). So a run never sends a
// contact twice, and a run that stops (crash, cancelled job) resumes from the snapshot: its next
// attempt adopts the same CampaignSync row and sends only what is still missing.
type Syncer struct {
	DB           *sql.DB
	Destinations *Destinations
	BatchSize    int
}

// RunOptions describe one run.
type RunOptions struct {
	Trigger Trigger
	// Slot is the scheduled time the run serves (TriggerSchedule).
	Slot *time.Time
	// JobID is the River job running the sync; a retry of that job resumes its sync row.
	JobID *int64
	// Final marks the last attempt: an error fails the sync instead of leaving it running for
	// the next attempt to resume.
	Final bool
}

// Run syncs one campaign and returns its CampaignSync row. An error leaves the row running
// (with the error) for a retry to resume, or failed when opts.Final.
func (s *Syncer) Run(ctx context.Context, campaignID uuid.UUID, opts RunOptions) (*ent.CampaignSync, error) {
	client := txn.NewClient(s.DB)
	c, err := client.Campaign.Query().Where(entcampaign.ID(campaignID)).WithDestination().Only(ctx)
	if err != nil {
		return nil, notFound(err, "campaign", campaignID)
	}
	if err := allowed(ctx, client, c, opts.Trigger); err != nil {
		return nil, err
	}
	run, err := s.begin(ctx, c.ID, opts)
	if err != nil {
		return nil, err
	}
	if err := s.sync(ctx, c, run); err != nil {
		return s.fail(ctx, c, run, opts, err)
	}
	return s.finish(ctx, c, run, opts)
}

// allowed decides whether the trigger may run the campaign now.
func allowed(ctx context.Context, client *ent.Client, c *ent.Campaign, t Trigger) error {
	switch t {
	case TriggerManual:
		return nil
	case TriggerSchedule:
		if c.Status != entcampaign.StatusScheduled {
			return fmt.Errorf("%w: campaign is %s", ErrSkipped, c.Status)
		}
		return nil
	case TriggerSegment:
		// Deltas keep a list fresh between runs: only for a scheduled campaign that has had
		// its first (full) run.
		if c.Status != entcampaign.StatusScheduled {
			return fmt.Errorf("%w: campaign is %s", ErrSkipped, c.Status)
		}
		synced, err := client.CampaignSync.Query().Where(campaignsync.CampaignID(c.ID),
			campaignsync.StatusEQ(campaignsync.StatusSucceeded)).Exist(ctx)
		if err != nil {
			return err
		}
		if !synced {
			return fmt.Errorf("%w: campaign has not had its first run", ErrSkipped)
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown trigger %q", ErrInvalidInput, t)
	}
}

// begin adopts the sync row this job left running, or starts a new one. A running row of a
// job that can no longer run is failed as abandoned; one of a live job is a conflict.
func (s *Syncer) begin(ctx context.Context, campaignID uuid.UUID, opts RunOptions) (*ent.CampaignSync, error) {
	var run *ent.CampaignSync
	err := txn.Run(ctx, s.DB, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE`, campaignID); err != nil {
			return fmt.Errorf("error locking campaign: %w", err)
		}
		var (
			id    uuid.UUID
			jobID sql.NullInt64
			alive bool
		)
		err := tx.QueryRowContext(ctx, queries["running-sync"], campaignID).Scan(&id, &jobID, &alive)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("error reading running sync: %w", err)
		case sameJob(jobID, opts.JobID):
			run, err = client.CampaignSync.Get(ctx, id)
			return err
		case alive:
			return fmt.Errorf("%w: a sync of campaign %s is running", ErrConflict, campaignID)
		default:
			if err := client.CampaignSync.UpdateOneID(id).SetStatus(campaignsync.StatusFailed).
				SetFinishedAt(time.Now()).SetError("abandoned: its job ended before the sync finished").Exec(ctx); err != nil {
				return fmt.Errorf("error closing abandoned sync: %w", err)
			}
		}
		create := client.CampaignSync.Create().SetCampaignID(campaignID).SetNillableSlot(opts.Slot).
			SetNillableJobID(opts.JobID)
		run, err = create.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

func sameJob(a sql.NullInt64, b *int64) bool {
	if !a.Valid || b == nil {
		return !a.Valid && b == nil
	}
	return a.Int64 == *b
}

// sync sends the difference between audience and snapshot.
func (s *Syncer) sync(ctx context.Context, c *ent.Campaign, run *ent.CampaignSync) error {
	if !c.Edges.Destination.Enabled {
		return fmt.Errorf("destination %s is disabled", c.DestinationID)
	}
	fields, err := parseFields(c.Fields)
	if err != nil {
		return err
	}
	var noEmail, noConsent int
	if err := s.DB.QueryRowContext(ctx, queries["skipped"], c.SegmentID).Scan(&noEmail, &noConsent); err != nil {
		return fmt.Errorf("error counting skipped members: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE campaign_syncs SET skipped_no_email = $2, skipped_no_consent = $3 WHERE id = $1`,
		run.ID, noEmail, noConsent); err != nil {
		return fmt.Errorf("error recording skipped members: %w", err)
	}
	dst, err := s.Destinations.Provider(c.Edges.Destination)
	if err != nil {
		return err
	}
	if err := s.removals(ctx, c, run.ID, dst); err != nil {
		return err
	}
	return s.upserts(ctx, c, run.ID, fields, dst)
}

func (s *Syncer) batch() int {
	if s.BatchSize > 0 {
		return s.BatchSize
	}
	return DefaultBatchSize
}

type removal struct {
	customer uuid.UUID
	email    string
	held     bool
	wanted   bool
}

// removals removes from the destination the contacts the audience no longer holds.
func (s *Syncer) removals(ctx context.Context, c *ent.Campaign, syncID uuid.UUID, dst provider.Destination) error {
	after := uuid.Nil
	for {
		page, err := s.removalPage(ctx, c, syncID, after)
		if err != nil || len(page) == 0 {
			return err
		}
		after = page[len(page)-1].customer
		var (
			drop   []uuid.UUID
			emails []string
			byMail = map[string][]uuid.UUID{}
		)
		for _, r := range page {
			if !r.held || r.wanted {
				drop = append(drop, r.customer)
				continue
			}
			if _, dup := byMail[r.email]; !dup {
				emails = append(emails, r.email)
			}
			byMail[r.email] = append(byMail[r.email], r.customer)
		}
		var res provider.Result
		if len(emails) > 0 {
			if res, err = dst.Remove(ctx, emails); err != nil {
				return fmt.Errorf("error removing contacts: %w", err)
			}
		}
		failed := failures(res)
		var o outcome
		for _, id := range drop {
			o.confirmed = append(o.confirmed, id.String())
		}
		for email, ids := range byMail {
			if msg, bad := failed[email]; bad {
				for _, id := range ids {
					o.fail(id, email, msg)
				}
				continue
			}
			for _, id := range ids {
				o.confirmed = append(o.confirmed, id.String())
			}
			o.removed += len(ids)
		}
		if err := s.recordRemovals(ctx, c.ID, syncID, o); err != nil {
			return err
		}
	}
}

func (s *Syncer) removalPage(ctx context.Context, c *ent.Campaign, syncID, after uuid.UUID) ([]removal, error) {
	rows, err := s.DB.QueryContext(ctx, queries["remove-page"], c.ID, c.SegmentID, after, s.batch(), syncID)
	if err != nil {
		return nil, fmt.Errorf("error reading removals: %w", err)
	}
	defer rows.Close()
	var out []removal
	for rows.Next() {
		var r removal
		if err := rows.Scan(&r.customer, &r.email, &r.held, &r.wanted); err != nil {
			return nil, fmt.Errorf("error reading removals: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type upsert struct {
	customer uuid.UUID
	contact  provider.Contact
	hash     string
	update   bool
}

// upserts sends the audience members the destination lacks or holds stale.
func (s *Syncer) upserts(ctx context.Context, c *ent.Campaign, syncID uuid.UUID, f fieldArrays, dst provider.Destination) error {
	after := uuid.Nil
	for {
		page, err := s.upsertPage(ctx, c, syncID, f, after)
		if err != nil || len(page) == 0 {
			return err
		}
		after = page[len(page)-1].customer
		contacts := make([]provider.Contact, len(page))
		for i, u := range page {
			contacts[i] = u.contact
		}
		res, err := dst.Upsert(ctx, contacts)
		if err != nil {
			return fmt.Errorf("error upserting contacts: %w", err)
		}
		failed := failures(res)
		var o outcome
		for _, u := range page {
			if msg, bad := failed[u.contact.Email]; bad {
				o.fail(u.customer, u.contact.Email, msg)
				continue
			}
			o.ids = append(o.ids, u.customer.String())
			o.emails = append(o.emails, u.contact.Email)
			o.hashes = append(o.hashes, u.hash)
			if u.update {
				o.updated++
			} else {
				o.added++
			}
		}
		if err := s.recordUpserts(ctx, c.ID, syncID, o); err != nil {
			return err
		}
	}
}

func (s *Syncer) upsertPage(ctx context.Context, c *ent.Campaign, syncID uuid.UUID, f fieldArrays, after uuid.UUID) ([]upsert, error) {
	rows, err := s.DB.QueryContext(ctx, queries["upsert-page"], c.ID, c.SegmentID,
		pq.Array(f.names), pq.Array(f.sources), pq.Array(f.keys), after, s.batch(), syncID)
	if err != nil {
		return nil, fmt.Errorf("error reading audience: %w", err)
	}
	defer rows.Close()
	var out []upsert
	for rows.Next() {
		var (
			u       upsert
			payload []byte
			held    string
		)
		if err := rows.Scan(&u.customer, &u.contact.Email, &payload, &u.hash, &held); err != nil {
			return nil, fmt.Errorf("error reading audience: %w", err)
		}
		if err := json.Unmarshal(payload, &u.contact.Fields); err != nil {
			return nil, fmt.Errorf("error decoding merge fields: %w", err)
		}
		u.update = held != ""
		out = append(out, u)
	}
	return out, rows.Err()
}

// outcome is what one provider call settled.
type outcome struct {
	// upserts confirmed
	ids, emails, hashes []string
	added, updated      int
	// removals confirmed (or dropped without a call)
	confirmed []string
	removed   int
	// contacts rejected
	failedIDs, failedEmails, failedErrs []string
}

func (o *outcome) fail(id uuid.UUID, email, msg string) {
	o.failedIDs = append(o.failedIDs, id.String())
	o.failedEmails = append(o.failedEmails, email)
	o.failedErrs = append(o.failedErrs, msg)
}

// failures indexes a provider result's rejections by normalised email.
func failures(res provider.Result) map[string]string {
	out := make(map[string]string, len(res.Failed))
	for _, f := range res.Failed {
		msg := strings.TrimSpace(strings.Join(nonEmpty(f.Code, f.Field, f.Message), ": "))
		if len(msg) > 500 {
			msg = msg[:500]
		}
		out[strings.ToLower(strings.TrimSpace(f.Email))] = msg
	}
	return out
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
