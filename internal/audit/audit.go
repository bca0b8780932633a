// Package audit owns the audit trail: it is the one writer of audit_events rows (who did what to
// which object). Privacy actions, key changes, merges, identity conflicts and campaign sends are
// recorded in the transaction that does the work, so the trail commits or rolls back with it:
// Record for code holding an ent client, Writer.RecordAll for set-based code holding a *sql.Tx
// (one statement per batch of events). Rows are only ever inserted (the database refuses UPDATE,
// DELETE and TRUNCATE of audit_events: migration retention_audit), and never hold secrets or
// raw identifiers (emails, phones, user ids): callers put ids and identifier types in Details,
// never identifier values.
package audit

import (
	"context"
	"fmt"

	"github.com/cairn-cdp/cairn/ent"
)

// Event describes one audited action.
type Event struct {
	Actor      string // "key:<id>", "cli" or "system"; empty means "system"
	Action     string // e.g. "api_key.create", "customer.merge"
	TargetType string
	TargetID   string
	Details    map[string]any // never secrets or PII
}

// actor is e's actor, "system" when empty.
func (e Event) actor() string {
	if e.Actor == "" {
		return "system"
	}
	return e.Actor
}

// Record writes e through client (bind client to the transaction doing the work).
func Record(ctx context.Context, client *ent.Client, e Event) error {
	_, err := client.AuditEvent.Create().
		SetActor(e.actor()).
		SetAction(e.Action).
		SetTargetType(e.TargetType).
		SetTargetID(e.TargetID).
		SetDetails(e.Details).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("error recording audit event %s: %w", e.Action, err)
	}
	return nil
}
