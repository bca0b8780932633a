// Package rfm owns customers' RFM values (the rfm_* columns): it scores customers by Recency,
// Frequency and Monetary value of their orders and labels them with the common eleven-segment
// RFM map, all in set-based SQL (queries.sql), and summarises them for the API. It declares the
// Scheduler that jobs/ implements to run a computation in the background.
//
// Orders are interactions with event 'Order Completed' inside a window (default 365 days) ending
// at the computation's now. recency = whole days since the last order, frequency = number of
// orders, monetary = sum of revenue (NULL revenue counts 0). Each score is
// 1 + floor(5 * (rank - 1) / n), rank being RANK() from worst to best (recency: most days first;
// frequency and monetary: smallest first; ties share a rank and so a score) and n the number of
// customers with at least one order in the window. score is the three digits ("545"); the label
// comes from the recency score and the rounded mean of the other two (label.go). Customers with
// no order in the window, and merged-away profiles, have no RFM: their rfm_* columns are NULL.
//
// Compute scores everyone in one set-based statement into a session temp table that keeps only
// the rows whose stored values change, then writes those in keyset batches by customer id, one
// short transaction each (queries.sql explains each step and its plan). Only rfm_* columns are
// written; updated_at is left alone, as RFM is derived data, not a profile change. While some
// segment's rule has an rfm condition, each batch also queues the customers it wrote in
// segment_dirty_customers, so the incremental segment drain picks the new values up.
//
// Cost (BenchmarkComputeSeeded, 1M customers, 460k scored): an hourly run ~3.8 s, the first
// run, which writes every scored customer, ~8.4 s; PLANS.md has the breakdown. rfm_label has no
// index so that these updates write one index fewer.
package rfm

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
)

const (
	// DefaultWindow is how far back orders count.
	DefaultWindow = 365 * 24 * time.Hour
	// DefaultBatchSize is how many customers one write transaction covers.
	DefaultBatchSize = 20_000
	// lockKey is the advisory lock ("cairnrfm") that serialises computations.
	lockKey = 0x636169726e72666d
	// workMem is the per-operation memory the scoring query may use, so its three window sorts
	// and the hash join with customers stay in memory rather than spilling (1M customers: the
	// hash of customers is ~90 MB; hash_mem_multiplier doubles work_mem for hashes).
	workMem = "128MB"
	// tempBuffers holds the temp table of rows to write in memory (a first computation over
	// 460k scored customers writes all of them: ~80 MB with its index).
	tempBuffers = "256MB"
)

// Scorer computes and reads RFM scores.
type Scorer struct {
	db *sql.DB
}

// New returns a Scorer on db.
func New(db *sql.DB) *Scorer { return &Scorer{db: db} }

// ComputeOpts configure one computation; nil or zero fields take the defaults.
type ComputeOpts struct {
	// Now is the instant the computation is as of (default time.Now()): recency counts days up
	// to it and the window ends at it. Tests pass a fixed time.
	Now time.Time
	// Window is how far back from Now orders count (default DefaultWindow); orders in
	// (Now-Window, Now] count.
	Window time.Duration
	// BatchSize bounds the rows each write transaction covers (default DefaultBatchSize).
	BatchSize int
}

// Result reports what a computation did.
type Result struct {
	// Now and Window are the computation's parameters after defaults.
	Now    time.Time
	Window time.Duration
	// Scored is n: the customers with at least one order in the window, who now hold RFM.
	Scored int
	// Cleared is how many customers lost their RFM (no order in the window any more, or merged).
	Cleared int
	// Updated is how many customer rows were written (changed values, including the cleared);
	// rows whose values did not change are not written.
	Updated int
	// Batches is the number of write transactions (0 when nothing changed).
	Batches int
	// Duration is the whole computation; Scoring the snapshot into the temp table, Writing the
	// batches.
	Duration, Scoring, Writing time.Duration
}

// Compute scores every customer in one snapshot and writes the changed rows in batches.
// Concurrent computations are serialised by an advisory lock.
func (s *Scorer) Compute(ctx context.Context, opts *ComputeOpts) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := &Result{Now: o.Now, Window: o.Window}

	// The temp table, the advisory lock and the session settings live in one session: pin a
	// connection, and discard it afterwards rather than return a tuned session holding a temp
	// table to the pool. Ending the session drops the table and releases the lock, even if ctx
	// was cancelled half-way.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error getting a connection for RFM: %w", err)
	}
	defer discard(conn)
	if err := tune(ctx, conn); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, queries["lock"], int64(lockKey)); err != nil {
		return nil, fmt.Errorf("error waiting for the RFM lock: %w", err)
	}

	scoring := time.Now()
	toWrite, err := s.score(ctx, conn, o, res)
	if err != nil {
		return nil, err
	}
	writing := time.Now()
	res.Scoring = writing.Sub(scoring)
	if toWrite > 0 {
		if err := s.apply(ctx, conn, o, res); err != nil {
			return nil, err
		}
	}
	res.Writing = time.Since(writing)
	res.Duration = time.Since(start)
	return res, nil
}

// score fills rfm_next with the rows to write (changed values, or NULLs to clear) and returns
// how many there are.
func (s *Scorer) score(ctx context.Context, conn *sql.Conn, o ComputeOpts, res *Result) (int, error) {
	for _, q := range []string{"drop-scores", "create-scores"} {
		if _, err := conn.ExecContext(ctx, queries[q]); err != nil {
			return 0, fmt.Errorf("error preparing the RFM scores table (%s): %w", q, err)
		}
	}
	var toWrite int
	err := conn.QueryRowContext(ctx, queries["fill-scores"], o.Now, o.Now.Add(-o.Window), pq.Array(labelArray())).
		Scan(&res.Scored, &res.Cleared, &toWrite)
	if err != nil {
		return 0, fmt.Errorf("error scoring customers: %w", err)
	}
	if toWrite == 0 {
		return 0, nil
	}
	if _, err := conn.ExecContext(ctx, queries["analyze-scores"]); err != nil {
		return 0, fmt.Errorf("error analysing the RFM scores table: %w", err)
	}
	return toWrite, nil
}

// apply writes rfm_next to customers in keyset batches by id, one short transaction each, and
// queues the written customers for incremental segment re-evaluation in the same transaction
// when a segment's rule uses rfm.
func (s *Scorer) apply(ctx context.Context, conn *sql.Conn, o ComputeOpts, res *Result) error {
	bounds, err := batchBounds(ctx, conn, o.BatchSize)
	if err != nil {
		return err
	}
	// Each batch probes customers by primary key per row (apply-batch explains why); the session
	// is discarded after the computation, so these settings end with it.
	for _, q := range []string{"SET enable_mergejoin = off", "SET enable_hashjoin = off"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("error preparing the RFM writes: %w", err)
		}
	}
	var lo *uuid.UUID
	for i := 0; i <= len(bounds); i++ {
		var hi *uuid.UUID
		if i < len(bounds) {
			hi = &bounds[i]
		}
		n, err := applyBatch(ctx, conn, lo, hi, o.Now)
		if err != nil {
			return fmt.Errorf("error writing RFM batch %d of %d: %w", i+1, len(bounds)+1, err)
		}
		res.Updated += n
		res.Batches++
		lo = hi
	}
	return nil
}

// applyBatch writes one batch in a transaction of its own that holds hold-segment-queue, so its
// "does a segment use rfm" check cannot miss a segment being created or changed meanwhile.
func applyBatch(ctx context.Context, conn *sql.Conn, lo, hi *uuid.UUID, now time.Time) (int, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, queries["hold-segment-queue"]); err != nil {
		return 0, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, queries["apply-batch"], nullUUID(lo), nullUUID(hi), now).Scan(&n); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

func batchBounds(ctx context.Context, conn *sql.Conn, size int) ([]uuid.UUID, error) {
	rows, err := conn.QueryContext(ctx, queries["batch-bounds"], size)
	if err != nil {
		return nil, fmt.Errorf("error splitting RFM writes into batches: %w", err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("error reading an RFM batch bound: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading RFM batch bounds: %w", err)
	}
	return out, nil
}

// tune sets the session up for one big scoring query. The values are constants, not input.
func tune(ctx context.Context, conn *sql.Conn) error {
	// temp_buffers can only be set before the session first touches a temp table; a session
	// that already has cannot take it, and then the table just spills to disk sooner.
	_, _ = conn.ExecContext(ctx, "SET temp_buffers = '"+tempBuffers+"'")
	if _, err := conn.ExecContext(ctx, "SET work_mem = '"+workMem+"'"); err != nil {
		return fmt.Errorf("error setting work_mem for RFM: %w", err)
	}
	// JIT compilation of the scoring query costs more (~1.5 s) than it saves.
	if _, err := conn.ExecContext(ctx, "SET jit = off"); err != nil {
		return fmt.Errorf("error turning JIT off for RFM: %w", err)
	}
	return nil
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

func (o *ComputeOpts) withDefaults() (ComputeOpts, error) {
	var out ComputeOpts
	if o != nil {
		out = *o
	}
	if out.Now.IsZero() {
		out.Now = time.Now()
	}
	// Postgres keeps microseconds: truncate so Go and SQL agree on every boundary.
	out.Now = out.Now.UTC().Truncate(time.Microsecond)
	switch {
	case out.Window == 0:
		out.Window = DefaultWindow
	case out.Window < 0:
		return out, fmt.Errorf("%w: window must be positive, got %s", ErrInvalidInput, out.Window)
	}
	switch {
	case out.BatchSize == 0:
		out.BatchSize = DefaultBatchSize
	case out.BatchSize < 0:
		return out, fmt.Errorf("%w: batch size must be positive, got %d", ErrInvalidInput, out.BatchSize)
	}
	return out, nil
}

func nullUUID(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return *id
}

// Values are one customer's RFM as stored.
type Values struct {
	// Recency is whole days from the last order to the computation's now.
	Recency   int
	Frequency int
	Monetary  float64
	// Scores are 1..5, 5 best.
	RecencyScore   int
	FrequencyScore int
	MonetaryScore  int
	// Score is the three scores as digits, e.g. "545".
	Score string
	Label string
	// ComputedAt is the now of the computation that last changed these values; later
	// computations that found them unchanged did not rewrite them.
	ComputedAt time.Time
}

// FromCustomer returns c's RFM, or nil when c has none (no order in the window).
func FromCustomer(c *ent.Customer) *Values {
	if c == nil || c.RfmRecency == nil || c.RfmFrequency == nil || c.RfmMonetary == nil ||
		c.RfmRecencyScore == nil || c.RfmFrequencyScore == nil || c.RfmMonetaryScore == nil ||
		c.RfmScore == nil || c.RfmLabel == nil || c.RfmComputedAt == nil {
		return nil
	}
	return &Values{
		Recency:        *c.RfmRecency,
		Frequency:      *c.RfmFrequency,
		Monetary:       *c.RfmMonetary,
		RecencyScore:   *c.RfmRecencyScore,
		FrequencyScore: *c.RfmFrequencyScore,
		MonetaryScore:  *c.RfmMonetaryScore,
		Score:          *c.RfmScore,
		Label:          *c.RfmLabel,
		ComputedAt:     *c.RfmComputedAt,
	}
}
