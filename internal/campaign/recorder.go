package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// maxRecordRows bounds the contacts one recording transaction writes.
const maxRecordRows = 5000

// recordWriters write outcomes concurrently. One writer kept up with 50 ms calls only until the
// diff query and the engine took the machine's CPU: it wrote 5,000 rows in 100-270 ms, below
// the 50,000 contacts/s that 10 connections of 500-contact calls deliver, and the calls waited
// for it (a 100k first sync's calls spread over 2.7 s instead of 2.0). Outcomes are of distinct
// contacts, so writers only meet on the sync row's counts, updated last in each transaction.
const recordWriters = 2

// recorder writes the outcomes of a pass's provider calls. One goroutine takes each outcome
// and whatever others are already waiting (up to maxRecordRows contacts) and writes them in one
// transaction: snapshot rows and one update of the sync's counts. Per call, with 10 calls in
// flight, the calls queued on the sync row's lock and paid a commit each (200 transactions for
// a 100k first sync). An outcome is written only after its call returned, so a snapshot row
// still changes only once the provider confirmed it; a run stopped before a write resends
// those contacts on its next attempt, as before.
type recorder struct {
	s                  *Syncer
	campaignID, syncID uuid.UUID
	in                 chan outcome
	done               chan struct{}

	mu  sync.Mutex
	err error
}

func (s *Syncer) newRecorder(campaignID, syncID uuid.UUID) *recorder {
	r := &recorder{s: s, campaignID: campaignID, syncID: syncID, in: make(chan outcome, 2*s.concurrency()), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range recordWriters {
		wg.Go(r.loop)
	}
	go func() { wg.Wait(); close(r.done) }()
	return r
}

// add queues o; it returns the error of an earlier write, which ends the pass.
func (r *recorder) add(o outcome) error {
	if err := r.failed(); err != nil {
		return err
	}
	r.in <- o
	return nil
}

// close writes what is queued and returns the first write error.
func (r *recorder) close() error {
	close(r.in)
	<-r.done
	return r.failed()
}

func (r *recorder) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *recorder) loop() {
	for o := range r.in {
		merged := o
		for merged.rows() < maxRecordRows {
			next, ok := r.tryTake()
			if !ok {
				break
			}
			merged.merge(next)
		}
		if r.failed() != nil {
			continue // drain: nothing more is written after a failure
		}
		if err := r.s.record(r.campaignID, r.syncID, merged); err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
		}
	}
}

func (r *recorder) tryTake() (outcome, bool) {
	select {
	case o, ok := <-r.in:
		return o, ok
	default:
		return outcome{}, false
	}
}

func (o *outcome) rows() int { return len(o.ids) + len(o.confirmed) + len(o.failedIDs) }

func (o *outcome) merge(p outcome) {
	o.ids = append(o.ids, p.ids...)
	o.emails = append(o.emails, p.emails...)
	o.hashes = append(o.hashes, p.hashes...)
	o.added += p.added
	o.updated += p.updated
	o.confirmed = append(o.confirmed, p.confirmed...)
	o.removed += p.removed
	o.failedIDs = append(o.failedIDs, p.failedIDs...)
	o.failedEmails = append(o.failedEmails, p.failedEmails...)
	o.failedErrs = append(o.failedErrs, p.failedErrs...)
}

// record writes outcomes in one transaction, without the job's cancellation: once the provider
// confirmed contacts, recording that is what lets a resumed run skip them.
func (s *Syncer) record(campaignID, syncID uuid.UUID, o outcome) error {
	return txn.Run(context.Background(), s.DB, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		if len(o.ids) > 0 {
			if _, err := tx.ExecContext(ctx, queries["confirm-upserts"], campaignID, syncID,
				pq.Array(o.ids), pq.Array(o.emails), pq.Array(o.hashes)); err != nil {
				return fmt.Errorf("error recording synced contacts: %w", err)
			}
		}
		if len(o.confirmed) > 0 {
			if _, err := tx.ExecContext(ctx, queries["confirm-removals"], campaignID, syncID, pq.Array(o.confirmed)); err != nil {
				return fmt.Errorf("error recording removed contacts: %w", err)
			}
		}
		return s.recordCommon(ctx, tx, campaignID, syncID, o)
	})
}
