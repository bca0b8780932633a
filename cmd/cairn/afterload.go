package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/riverqueue/river"

	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/jobs"
)

// After a bulk load (seed, import) the database is left ready to query: its statistics and
// visibility map current, and the derived data (segments, RFM) queued for recomputation.

// vacuumAnalyze runs VACUUM (ANALYZE) on tables, one at a time (VACUUM cannot run in a
// transaction). VACUUM sets the visibility map, which index-only scans need to skip the heap.
func vacuumAnalyze(ctx context.Context, db *sql.DB, w io.Writer, tables ...string) error {
	for _, t := range tables {
		t0 := time.Now()
		if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE) "+pq.QuoteIdentifier(t)); err != nil {
			return fmt.Errorf("the data is committed, but VACUUM (ANALYZE) %s failed (run it yourself, or let autovacuum): %w", t, err)
		}
		fmt.Fprintf(w, "vacuumed and analyzed %s in %s\n", t, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// enqueueRecompute queues a computation of every segment and of RFM, in one transaction. A
// running `cairn serve` or `cairn worker` picks them up; it says so, and what to run otherwise.
func enqueueRecompute(ctx context.Context, a *app.App, w io.Writer) error {
	rc, _, err := jobs.NewClient(jobs.Deps{DB: a.DB, Client: a.Client, Log: a.Log}, jobs.Options{})
	if err != nil {
		return err
	}
	tx, err := a.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("error beginning transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	rows, err := tx.QueryContext(ctx, `SELECT id FROM segments ORDER BY id`)
	if err != nil {
		return fmt.Errorf("error listing segments: %w", err)
	}
	var params []river.InsertManyParams
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("error listing segments: %w", err)
		}
		params = append(params, river.InsertManyParams{Args: jobs.ComputeSegmentArgs{SegmentID: id}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error listing segments: %w", err)
	}
	params = append(params, river.InsertManyParams{Args: jobs.ComputeRFMArgs{}})
	if _, err := rc.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("error enqueuing segment and RFM computations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("error enqueuing segment and RFM computations: %w", err)
	}
	fmt.Fprintf(w, "queued the computation of %d segments and of RFM: a running `cairn serve` or `cairn worker` on this database runs them (start one now if none is running)\n", len(params)-1)
	return nil
}
