package segment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Scheduler enqueues the work a membership change makes necessary, on the transaction that
// wrote the change (jobs/ implements it with River's InsertTx). A nil Scheduler enqueues nothing.
type Scheduler interface {
	// ScheduleSync enqueues an audience sync of a campaign whose segment changed. The
	// implementation decides what a campaign's status allows.
	ScheduleSync(ctx context.Context, tx *sql.Tx, campaignID uuid.UUID) error
	// ScheduleCompute enqueues a full computation of the segment and returns its job (the one
	// already queued, when a computation of the segment is waiting or running).
	ScheduleCompute(ctx context.Context, tx *sql.Tx, segmentID uuid.UUID) (*queue.Job, error)
}

// Service defines, computes and maintains segments; its methods own their transactions.
type Service struct {
	DB        *sql.DB
	Scheduler Scheduler
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// WorkMem is set (SET LOCAL work_mem) for computations so per-customer event aggregates
	// stay in memory. Empty: "64MB".
	WorkMem string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// readTx runs fn in a read-only transaction with the computation settings.
func (s *Service) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.runTx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

// tx runs fn in a transaction with the computation settings.
func (s *Service) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.runTx(ctx, nil, fn)
}

func (s *Service) runTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	return txn.RunOpts(ctx, s.DB, opts, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		if err := s.settings(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

func (s *Service) settings(ctx context.Context, tx *sql.Tx) error {
	wm := s.WorkMem
	if wm == "" {
		wm = "64MB"
	}
	q := params("settings", map[string]any{"work_mem": wm})
	if _, err := tx.ExecContext(ctx, q.SQL, q.Args...); err != nil {
		return fmt.Errorf("error configuring transaction: %w", err)
	}
	return nil
}
