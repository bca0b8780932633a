// Package audit records AuditEvents: who did what to which object. Privacy actions, key changes,
// merges and campaign sends call Record in the transaction that does the work, so the audit trail
// commits or rolls back with it.
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

// Record writes e through client (bind client to the transaction doing the work).
func Record(ctx context.Context, client *ent.Client, e Event) error {
	if e.Actor == "" {
		e.Actor = "system"
	}
	_, err := client.AuditEvent.Create().
		SetActor(e.Actor).
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
