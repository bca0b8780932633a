package campaign

// The two passes of a run (removals, then upserts): each reads its diff once and hands batches
// to the provider, recording each call's outcome as it settles.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/textcut"
)

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

// diffSettings are the planner settings of the diff queries, which read a whole audience: no
// JIT. PostgreSQL compiled them because the per-member probes inflate the cost estimate, and
// 140-340 ms of a 100k first sync's diff went to compiling. (Neither diff sorts or hashes any
// more, so they need no work_mem of their own.)
const diffSettings = `SET LOCAL jit = off`

// queryDiff runs a diff query in a read-only transaction with diffSettings; done closes the
// rows and ends the transaction.
func (s *Syncer) queryDiff(ctx context.Context, query string, args ...any) (*sql.Rows, func(), error) {
	tx, err := s.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	if _, err := tx.ExecContext(ctx, diffSettings); err != nil {
		_ = tx.Rollback()
		return nil, nil, err
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		_ = tx.Rollback()
		return nil, nil, err
	}
	return rows, func() { _ = rows.Close(); _ = tx.Rollback() }, nil
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
		rows, done, err := s.queryDiff(ctx, queries["remove-diff"], c.ID, c.SegmentID, syncID)
		if err != nil {
			return fmt.Errorf("error reading removals: %w", err)
		}
		defer done()
		return batches(rows, s.batch(), emit, func(r *removal) (bool, error) {
			return true, rows.Scan(&r.customer, &r.email, &r.held, &r.wanted)
		})
	}
	rec := s.newRecorder(c.ID, syncID)
	err := dispatch(ctx, s.concurrency(), read, func(ctx context.Context, page []removal) error {
		return s.removeBatch(ctx, rec, dst, page)
	})
	if cerr := rec.close(); err == nil {
		err = cerr
	}
	return err
}

// removeBatch removes one batch and records the outcome.
func (s *Syncer) removeBatch(ctx context.Context, rec *recorder, dst provider.Destination, page []removal) error {
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
	return rec.add(o)
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
		rows, done, err := s.queryDiff(ctx, queries["upsert-diff"], c.ID, c.SegmentID,
			pq.Array(f.names), pq.Array(f.sources), pq.Array(f.keys), syncID)
		if err != nil {
			return fmt.Errorf("error reading audience: %w", err)
		}
		defer done()
		// Rows whose email another customer has wait here until the stream ends (see
		// upsert-diff); the others go out in batches as they come.
		var (
			shared             []sharedUpsert
			noEmail, noConsent int
		)
		err = batches(rows, s.batch(), emit, func(u *upsert) (bool, error) {
			var (
				payload     []byte
				held, skip  string
				share, send bool
			)
			if err := rows.Scan(&u.customer, &u.contact.Email, &payload, &u.hash, &held, &skip, &share, &send); err != nil {
				return false, err
			}
			switch skip {
			case "":
			case "no_email":
				noEmail++
				return false, nil
			default:
				noConsent++
				return false, nil
			}
			u.update = held != ""
			if err := json.Unmarshal(payload, &u.contact.Fields); err != nil {
				return false, err
			}
			if s.Tracking != nil {
				if u.contact.Fields == nil {
					u.contact.Fields = map[string]string{}
				}
				for k, v := range s.Tracking.Fields(c.ID, u.customer) {
					u.contact.Fields[k] = v
				}
			}
			if share {
				shared = append(shared, sharedUpsert{*u, send})
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if err := emitBatches(representatives(shared), s.batch(), emit); err != nil {
			return err
		}
		return s.recordSkipped(ctx, syncID, noEmail, noConsent)
	}
	rec := s.newRecorder(c.ID, syncID)
	err := dispatch(ctx, s.concurrency(), read, func(ctx context.Context, page []upsert) error {
		return s.upsertBatch(ctx, rec, dst, page)
	})
	if cerr := rec.close(); err == nil {
		err = cerr
	}
	return err
}

// upsertBatch sends one batch and records the outcome.
func (s *Syncer) upsertBatch(ctx context.Context, rec *recorder, dst provider.Destination, page []upsert) error {
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
	return rec.add(o)
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
		msg = textcut.Prefix(strings.ToValidUTF8(msg, "\uFFFD"), 500)
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
