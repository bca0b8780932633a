package audit

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent/schema"
	"github.com/cairn-cdp/cairn/internal/namedsql"
)

// queriesSQL holds the named queries (internal/namedsql) a Writer prepares.
//
//go:embed queries.sql
var queriesSQL string

// Writer records batches of events inside a caller's database/sql transaction, one statement per
// batch, for set-based code on hot paths (identity's merges and conflicts) that holds a *sql.Tx
// rather than an ent client. It is safe for concurrent use.
type Writer struct {
	st namedsql.Statements
}

// NewWriter prepares the writer's statement on db (failing fast if it is broken).
func NewWriter(ctx context.Context, db *sql.DB) (*Writer, error) {
	st, err := namedsql.Prepare(ctx, db, queriesSQL)
	if err != nil {
		return nil, fmt.Errorf("error preparing audit queries: %w", err)
	}
	return &Writer{st: st}, nil
}

// Close releases the prepared statement.
func (w *Writer) Close() { w.st.Close() }

// RecordAll writes events in tx with one statement; no events, no statement.
func (w *Writer) RecordAll(ctx context.Context, tx *sql.Tx, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	ids, actors, actions := make(pq.StringArray, n), make(pq.StringArray, n), make(pq.StringArray, n)
	types, targets, details := make(pq.StringArray, n), make(pq.StringArray, n), make(pq.StringArray, n)
	for i, e := range events {
		raw, err := json.Marshal(e.Details)
		if err != nil {
			return fmt.Errorf("error encoding details of audit event %s: %w", e.Action, err)
		}
		ids[i], actors[i], actions[i] = schema.NewID().String(), e.actor(), e.Action
		types[i], targets[i], details[i] = e.TargetType, e.TargetID, string(raw)
	}
	if _, err := w.st.On(ctx, tx, "insert-events").ExecContext(ctx, ids, actors, actions, types, targets, details); err != nil {
		return fmt.Errorf("error recording audit events: %w", err)
	}
	return nil
}
