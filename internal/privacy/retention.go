// Package privacy carries out what Cairn owes the people it tracks. This part is retention:
// policies that delete or anonymize interactions once they are older than the policy keeps
// them, applied by sweeps in short keyset batches so ingest keeps flowing.
//
// # Sweeps
//
// A sweep applies every enabled policy in turn (Retention.Sweep; the daily ApplyRetention job and
// runRetention). A policy's run walks interactions in id order, ≤ BatchSize (10,000) matching rows
// per transaction: each transaction deletes (or anonymizes) one batch, removes the customers it
// left empty, and records its cursor, cutoff and row count on the policy row, so a run that is
// interrupted (crash, cancellation, deploy) leaves every committed batch whole and the next run
// resumes from the cursor with the same cutoff. Runs serialise on an advisory lock.
//
// Locks, against ingest: a batch locks only the interaction rows it takes (FOR UPDATE SKIP
// LOCKED: rows an identity merge is moving are skipped, caught by the next run, and a batch never
// waits for ingest, so the two cannot deadlock). Ingest only inserts interactions, which never
// conflict with deleting other rows; a retried message whose message_id row is being deleted
// waits at most one batch. Retention does not take the segment queue barrier and queues nothing
// in segment_dirty_customers: like a time window expiring, an event removed by retention changes
// segment answers at the segment's next periodic computation, and RFM at its next hourly run.
//
// # Anonymize
//
// anonymize moves an interaction out of interactions into anonymous_interactions, which has no
// customer column, so nothing links it to a person and no segment, RFM, profile or export
// query (all of which read interactions by customer) ever sees it. What it keeps is exactly
// AnonymizedColumns, AnonymizedProperties and AnonymizedContext (retention_anonymize.go); the
// interaction's id, message_id, received_at, the rest of properties and context (ip, user
// agent, page URL, traits, …) are dropped, and occurred_at is truncated to the hour.
//
// # Empty customers
//
// A customer left with no interactions and no identities by a batch is removed in that
// batch's transaction, with its consents and segment memberships and the merged-away profiles
// that point to it (themselves empty: a merge moves everything to the survivor). Segment
// member counts catch up at each segment's next computation. If another row still refers to the
// customer (a table this sweep does not know), the customer is kept.
package privacy

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/txn"
)

const (
	// MaxRetentionBatch bounds the interactions one sweep transaction deletes or anonymizes.
	MaxRetentionBatch = 10_000
	// MaxKeepDays bounds a policy's keepDays (100 years).
	MaxKeepDays = 36_500
	// retentionLockKey is the session advisory lock ("cairnret") that serialises sweeps.
	retentionLockKey = 0x636169726e726574
)

// Retention manages retention policies and applies them.
type Retention struct {
	db      *sql.DB
	client  *ent.Client
	metrics *RetentionMetrics
	log     *slog.Logger
	now     func() time.Time
}

// RetentionOptions configure a Retention; nil or zero fields take the defaults.
type RetentionOptions struct {
	// Metrics receives sweep progress; nil records none.
	Metrics *RetentionMetrics
	Log     *slog.Logger
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time
}

// NewRetention returns a Retention on db.
func NewRetention(db *sql.DB, opts *RetentionOptions) *Retention {
	r := &Retention{db: db, client: txn.NewClient(db), log: slog.Default(), now: time.Now}
	if opts != nil {
		r.metrics = opts.Metrics
		if opts.Log != nil {
			r.log = opts.Log
		}
		if opts.Now != nil {
			r.now = opts.Now
		}
	}
	return r
}

// RetentionScheduler enqueues a sweep of every enabled policy (jobs/ implements it on River).
// At most one is queued or running at a time: a request while one is returns that job.
type RetentionScheduler interface {
	ScheduleRetention(ctx context.Context) (*queue.Job, error)
}
