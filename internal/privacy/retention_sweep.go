package privacy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/retentionpolicy"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// SweepOptions configure one sweep; nil or zero fields take the defaults.
type SweepOptions struct {
	// BatchSize is the most interactions one transaction takes (default and maximum
	// MaxRetentionBatch).
	BatchSize int
	// Pause is slept between batches, to leave the database to ingest (default none).
	Pause time.Duration
	// AfterBatch, when set, is called after each committed batch (tests interrupt sweeps here).
	AfterBatch func(policyID uuid.UUID, rows int)
	// Policy, when set, restricts the sweep to that one policy (if enabled).
	Policy *uuid.UUID
}

// SweepResult reports what a sweep did.
type SweepResult struct {
	Policies []PolicyRun
	// Rows is the interactions deleted or anonymized, CustomersRemoved the empty customers
	// removed, over every policy.
	Rows, CustomersRemoved int64
	Duration               time.Duration
}

// PolicyRun is what one policy's run did in a sweep.
type PolicyRun struct {
	PolicyID uuid.UUID
	Action   retentionpolicy.Action
	// Rows and CustomersRemoved count this sweep's batches only (a resumed run's earlier batches
	// are on the policy's rows_affected).
	Rows, CustomersRemoved int64
	Batches                int
	// Resumed is true when the run continued an interrupted one.
	Resumed bool
	// Stopped is true when the policy was disabled, changed or deleted during the run.
	Stopped bool
}

// Sweep applies every enabled policy, oldest first, each to completion in keyset batches. It
// returns ErrSweepRunning when another sweep holds the lock, and ctx's error (with what it did
// so far) when cancelled: every committed batch stays, and the next sweep resumes the rest.
func (r *Retention) Sweep(ctx context.Context, opts *SweepOptions) (*SweepResult, error) {
	o := SweepOptions{BatchSize: MaxRetentionBatch}
	if opts != nil {
		o = *opts
		if o.BatchSize <= 0 {
			o.BatchSize = MaxRetentionBatch
		}
	}
	if o.BatchSize > MaxRetentionBatch {
		return nil, fmt.Errorf("%w: batch size %d is above %d", ErrInvalidPolicy, o.BatchSize, MaxRetentionBatch)
	}
	start := time.Now()
	res := &SweepResult{}

	// The lock is held by a pinned session for the whole sweep; batches run on other
	// connections. Closing the session releases it even if ctx was cancelled.
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error getting a connection for the retention lock: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, retentionQueries["retention-lock"], int64(retentionLockKey)).Scan(&locked); err != nil {
		return nil, fmt.Errorf("error taking the retention lock: %w", err)
	}
	if !locked {
		return nil, ErrSweepRunning
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), retentionQueries["retention-unlock"], int64(retentionLockKey)) //nolint:errcheck // closing the session releases it too

	q := r.client.RetentionPolicy.Query().Where(retentionpolicy.Enabled(true))
	if o.Policy != nil {
		q = q.Where(retentionpolicy.ID(*o.Policy))
	}
	policies, err := q.
		Order(ent.Asc(retentionpolicy.FieldCreatedAt), ent.Asc(retentionpolicy.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("error loading retention policies: %w", err)
	}
	r.metrics.sweepStarted()
	defer r.metrics.sweepFinished()
	for _, p := range policies {
		run, err := r.runPolicy(ctx, p, &o)
		if errors.Is(err, ErrInvalidPolicy) {
			// A definition the API would refuse (written around it): skip it, sweep the rest.
			r.log.ErrorContext(ctx, "retention policy skipped", "policy", p.ID, "error", err)
			continue
		}
		if run != nil {
			res.Policies = append(res.Policies, *run)
			res.Rows += run.Rows
			res.CustomersRemoved += run.CustomersRemoved
		}
		if err != nil {
			res.Duration = time.Since(start)
			return res, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// policyScan is a run's fixed parameters.
type policyScan struct {
	cursor  uuid.UUID
	cutoff  time.Time
	kind    string
	pattern sql.NullString
	action  retentionpolicy.Action
	version time.Time // the policy's updated_at when the run started
}

// runPolicy applies p in batches until no due row is left, p changes, or ctx ends.
func (r *Retention) runPolicy(ctx context.Context, p *ent.RetentionPolicy, o *SweepOptions) (*PolicyRun, error) {
	scan := policyScan{kind: p.Kind, action: p.Action, version: p.UpdatedAt}
	if p.EventPattern != "" {
		like, err := globToLike(p.EventPattern)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.ID, err)
		}
		scan.pattern = sql.NullString{String: like, Valid: true}
	}
	run := &PolicyRun{PolicyID: p.ID, Action: p.Action}
	if p.SweepCursor != nil && p.SweepCutoff != nil {
		scan.cursor, scan.cutoff, run.Resumed = *p.SweepCursor, *p.SweepCutoff, true
	} else {
		scan.cutoff = r.now().Add(-time.Duration(p.KeepDays) * 24 * time.Hour)
	}
	first := !run.Resumed
	for {
		if err := ctx.Err(); err != nil {
			return run, err
		}
		b, err := r.batch(ctx, p.ID, &scan, o.BatchSize, first)
		if err != nil {
			return run, fmt.Errorf("error applying retention policy %s: %w", p.ID, err)
		}
		if b.stopped {
			run.Stopped = true
			return run, nil
		}
		first = false
		run.Batches++
		run.Rows += b.rows
		run.CustomersRemoved += b.customers
		if o.AfterBatch != nil {
			o.AfterBatch(p.ID, int(b.rows))
		}
		if b.last {
			r.log.InfoContext(ctx, "retention policy applied", "policy", p.ID, "action", p.Action,
				"rows", run.Rows, "customers_removed", run.CustomersRemoved, "batches", run.Batches, "resumed", run.Resumed)
			return run, nil
		}
		if o.Pause > 0 {
			select {
			case <-ctx.Done():
				return run, ctx.Err()
			case <-time.After(o.Pause):
			}
		}
	}
}

// batchResult is what one batch transaction did.
type batchResult struct {
	rows, customers int64
	last            bool // no due row is left after it: the run is complete
	stopped         bool // the policy was disabled, changed or deleted: nothing was done
}

// batch runs one transaction: lock the policy, take ≤ size due rows after the cursor, remove
// the customers it left empty, record the progress (and, on the last batch, the run) on the
// policy, and audit a completed run.
func (r *Retention) batch(ctx context.Context, policyID uuid.UUID, scan *policyScan, size int, first bool) (*batchResult, error) {
	started := time.Now()
	out := &batchResult{}
	err := txn.Run(ctx, r.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		var enabled bool
		var version time.Time
		err := tx.QueryRowContext(ctx, retentionQueries["retention-policy-lock"], policyID).Scan(&enabled, &version)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (!enabled || !version.Equal(scan.version))) {
			out.stopped = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("error locking the policy: %w", err)
		}
		var lastID uuid.NullUUID
		var customers pq.StringArray
		args := []any{scan.cursor, scan.cutoff, scan.kind, scan.pattern, size}
		name := "retention-delete-batch"
		if scan.action == retentionpolicy.ActionAnonymize {
			props, paths := anonymizeArgs()
			args = append(args, props, paths, maxAnonymizedString)
			name = "retention-anonymize-batch"
		}
		if err := tx.QueryRowContext(ctx, retentionQueries[name], args...).Scan(&out.rows, &lastID, &customers); err != nil {
			return fmt.Errorf("error taking a batch: %w", err)
		}
		out.last = out.rows < int64(size)
		if len(customers) > 0 {
			n, err := removeEmptyCustomers(ctx, tx, customers)
			if err != nil {
				return err
			}
			out.customers = n
		}
		if lastID.Valid {
			scan.cursor = lastID.UUID
		}
		var total int64
		if err := tx.QueryRowContext(ctx, retentionQueries["retention-progress"],
			policyID, scan.cursor, scan.cutoff, out.rows, first, out.last).Scan(&total); err != nil {
			return fmt.Errorf("error recording retention progress: %w", err)
		}
		if !out.last {
			return nil
		}
		return audit.Record(ctx, client, audit.Event{
			Action: "retention.run", TargetType: "RetentionPolicy", TargetID: policyID.String(),
			Details: map[string]any{"action": string(scan.action), "rows": total,
				"cutoff": scan.cutoff.UTC().Format(time.RFC3339)},
		})
	})
	if err != nil {
		return nil, err
	}
	if !out.stopped {
		r.metrics.batchDone(string(scan.action), out.rows, out.customers, time.Since(started))
	}
	return out, nil
}

// removeEmptyCustomers runs retention-delete-empty-customers under a savepoint: when a row the
// sweep does not know still refers to a customer (a foreign key violation), or a concurrent
// writer of their memberships deadlocks with it, the customers stay and the batch commits
// without removing them.
func removeEmptyCustomers(ctx context.Context, tx *sql.Tx, ids pq.StringArray) (int64, error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT retention_customers`); err != nil {
		return 0, fmt.Errorf("error setting a savepoint: %w", err)
	}
	var n int64
	err := tx.QueryRowContext(ctx, retentionQueries["retention-delete-empty-customers"], ids).Scan(&n)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && (pqErr.Code == "23503" || pqErr.Code == "40P01") {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT retention_customers`); err != nil {
			return 0, fmt.Errorf("error rolling back to the savepoint: %w", err)
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("error removing empty customers: %w", err)
	}
	return n, nil
}
