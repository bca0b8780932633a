package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	entcampaign "github.com/cairn-cdp/cairn/ent/campaign"
	"github.com/cairn-cdp/cairn/ent/campaignsync"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/txn"
)

const (
	// DefaultBatchSize is the contacts per provider call (Mailchimp's batch limit).
	DefaultBatchSize = 500
	// DefaultConcurrency is the provider calls a run keeps in flight (Mailchimp allows 10
	// connections per account; the provider clients enforce their own limits too).
	DefaultConcurrency = 4
)

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
// email_marketing consent) against its snapshot, first removals then upserts. Each pass reads
// its diff in one query, streamed in batches of BatchSize to Concurrency workers, one provider
// call per batch. After each call a worker records in one short transaction what the provider
// confirmed (snapshot rows, sync counts) and what it rejected (snapshot rows in state failed,
// left alone for the rest of the run). Each diff row is read once, so a run never sends a
// contact twice, and a run that stops (crash, cancelled job) resumes from the snapshot: its next
// attempt adopts the same CampaignSync row and sends only what is still missing.
type Syncer struct {
	DB           *sql.DB
	Destinations *Destinations
	BatchSize    int // contacts per call; 0: DefaultBatchSize
	Concurrency  int // calls in flight; 0: DefaultConcurrency
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

func (s *Syncer) concurrency() int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return DefaultConcurrency
}

type removal struct {
	customer uuid.UUID
	email    string
	held     bool
	wanted   bool
}

// removals removes from the destination the contacts the audience no longer holds.
func (s *Syncer) removals(ctx context.Context, c *ent.Campaign, syncID uuid.UUID, dst provider.Destination) error {
	read := func(ctx context.Context, emit func([]removal) error) error {
		rows, err := s.DB.QueryContext(ctx, queries["remove-diff"], c.ID, c.SegmentID, syncID)
		if err != nil {
			return fmt.Errorf("error reading removals: %w", err)
		}
		defer rows.Close()
		return batches(rows, s.batch(), emit, func(r *removal) error {
			return rows.Scan(&r.customer, &r.email, &r.held, &r.wanted)
		})
	}
	return dispatch(ctx, s.concurrency(), read, func(ctx context.Context, page []removal) error {
		return s.removeBatch(ctx, c.ID, syncID, dst, page)
	})
}

// removeBatch removes one batch and records the outcome.
func (s *Syncer) removeBatch(ctx context.Context, campaignID, syncID uuid.UUID, dst provider.Destination, page []removal) error {
	var (
		o      outcome
		emails []string
		byMail = map[string][]uuid.UUID{}
	)
	for _, r := range page {
		if !r.held || r.wanted {
			o.confirmed = append(o.confirmed, r.customer.String())
			continue
		}
		if _, dup := byMail[r.email]; !dup {
			emails = append(emails, r.email)
		}
		byMail[r.email] = append(byMail[r.email], r.customer)
	}
	var res provider.Result
	if len(emails) > 0 {
		var err error
		if res, err = dst.Remove(ctx, emails); err != nil {
			return fmt.Errorf("error removing contacts: %w", err)
		}
	}
	failed := failures(res)
	for email, ids := range byMail {
		msg, bad := failed[email]
		for _, id := range ids {
			if bad {
				o.fail(id, email, msg)
				continue
			}
			o.confirmed = append(o.confirmed, id.String())
			o.removed++
		}
	}
	return s.recordRemovals(ctx, campaignID, syncID, o)
}

type upsert struct {
	customer uuid.UUID
	contact  provider.Contact
	hash     string
	update   bool
}

// upserts sends the audience members the destination lacks or holds stale.
func (s *Syncer) upserts(ctx context.Context, c *ent.Campaign, syncID uuid.UUID, f fieldArrays, dst provider.Destination) error {
	read := func(ctx context.Context, emit func([]upsert) error) error {
		rows, err := s.DB.QueryContext(ctx, queries["upsert-diff"], c.ID, c.SegmentID,
			pq.Array(f.names), pq.Array(f.sources), pq.Array(f.keys), syncID)
		if err != nil {
			return fmt.Errorf("error reading audience: %w", err)
		}
		defer rows.Close()
		return batches(rows, s.batch(), emit, func(u *upsert) error {
			var payload []byte
			var held string
			if err := rows.Scan(&u.customer, &u.contact.Email, &payload, &u.hash, &held); err != nil {
				return err
			}
			u.update = held != ""
			return json.Unmarshal(payload, &u.contact.Fields)
		})
	}
	return dispatch(ctx, s.concurrency(), read, func(ctx context.Context, page []upsert) error {
		return s.upsertBatch(ctx, c.ID, syncID, dst, page)
	})
}

// upsertBatch sends one batch and records the outcome.
func (s *Syncer) upsertBatch(ctx context.Context, campaignID, syncID uuid.UUID, dst provider.Destination, page []upsert) error {
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
	return s.recordUpserts(ctx, campaignID, syncID, o)
}

// batches scans rows into batches of n and emits each.
func batches[T any](rows *sql.Rows, n int, emit func([]T) error, scan func(*T) error) error {
	batch := make([]T, 0, n)
	for rows.Next() {
		var v T
		if err := scan(&v); err != nil {
			return fmt.Errorf("error reading sync diff: %w", err)
		}
		if batch = append(batch, v); len(batch) == n {
			if err := emit(batch); err != nil {
				return err
			}
			batch = make([]T, 0, n)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading sync diff: %w", err)
	}
	if len(batch) > 0 {
		return emit(batch)
	}
	return nil
}

// dispatch runs read, which emits batches, and hands each batch to one of n workers running
// send. The first error stops reading and sending and is returned once the batches in flight
// have settled (each records its own outcome).
func dispatch[T any](ctx context.Context, n int, read func(context.Context, func([]T) error) error, send func(context.Context, []T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
		ch    = make(chan []T)
	)
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	for range n {
		wg.Go(func() {
			for b := range ch {
				if ctx.Err() != nil {
					fail(context.Cause(ctx)) // a batch left unsent: the run is not complete
					continue
				}
				if err := send(ctx, b); err != nil {
					fail(err)
				}
			}
		})
	}
	err := read(ctx, func(b []T) error {
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	if err != nil {
		return err
	}
	return context.Cause(ctx)
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
