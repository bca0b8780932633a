package identity

import (
	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/audit"
)

// auditEvents are the audit events of a flush: one customer.merge per merge and one
// identity.conflict per refused link (per message and profile pair). Details hold customer ids,
// identifier types and the message id, never identifier values.
func (b *Batch) auditEvents(actor string, merges []Merge) []audit.Event {
	var out []audit.Event
	for _, m := range merges {
		out = append(out, audit.Event{
			Actor: actor, Action: "customer.merge", TargetType: "Customer", TargetID: m.Into.String(),
			Details: map[string]any{"from": m.From.String(), "into": m.Into.String(), "reason": b.reason},
		})
	}
	type pair struct{ a, b uuid.UUID }
	done := map[pair]bool{}
	for _, c := range b.conflict {
		k := pair{c.Customer, c.Other}
		if done[k] || c.Customer == c.Other {
			continue
		}
		done[k] = true
		out = append(out, audit.Event{
			Actor: actor, Action: "identity.conflict", TargetType: "Customer", TargetID: c.Customer.String(),
			Details: map[string]any{
				"customer": c.Customer.String(), "other": c.Other.String(), "reason": c.Reason, "messageId": c.Ref,
			},
		})
	}
	return out
}
