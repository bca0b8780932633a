package privacy

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/retentionpolicy"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// maxPolicyName bounds a policy's name (the column's limit).
const maxPolicyName = 200

// PolicyInput is a new retention policy.
type PolicyInput struct {
	Name string
	// Kind restricts the policy to one interaction kind; nil means every kind.
	Kind *interaction.Kind
	// Event is a glob on the event name (globToLike); nil means every interaction.
	Event    *string
	KeepDays int
	Action   retentionpolicy.Action
	// Enabled defaults to true.
	Enabled *bool
}

// PolicyUpdate changes a policy; nil fields stay. ClearKind and ClearEvent widen the policy to
// every kind or event again.
type PolicyUpdate struct {
	Name                  *string
	Kind                  *interaction.Kind
	ClearKind, ClearEvent bool
	Event                 *string
	KeepDays              *int
	Action                *retentionpolicy.Action
	Enabled               *bool
}

// CreatePolicy validates and stores a policy, audited.
func (r *Retention) CreatePolicy(ctx context.Context, in PolicyInput) (*ent.RetentionPolicy, error) {
	if err := validatePolicy(in.Name, in.Kind, in.Event, in.KeepDays, in.Action); err != nil {
		return nil, err
	}
	var p *ent.RetentionPolicy
	err := txn.Run(ctx, r.db, func(ctx context.Context, _ *sql.Tx, client *ent.Client) error {
		c := client.RetentionPolicy.Create().
			SetName(strings.TrimSpace(in.Name)).SetKeepDays(in.KeepDays).SetAction(in.Action)
		if in.Kind != nil {
			c.SetKind(string(*in.Kind))
		}
		if in.Event != nil {
			c.SetEventPattern(*in.Event)
		}
		if in.Enabled != nil {
			c.SetEnabled(*in.Enabled)
		}
		var err error
		if p, err = c.Save(ctx); err != nil {
			return fmt.Errorf("error creating retention policy: %w", err)
		}
		return r.auditPolicy(ctx, client, "retention_policy.create", p)
	})
	return p, err
}

// UpdatePolicy applies u to the policy id, audited. A change to what the policy matches, how
// long it keeps or what it does abandons a run in progress: the next run starts afresh.
func (r *Retention) UpdatePolicy(ctx context.Context, id uuid.UUID, u PolicyUpdate) (*ent.RetentionPolicy, error) {
	var p *ent.RetentionPolicy
	err := txn.Run(ctx, r.db, func(ctx context.Context, _ *sql.Tx, client *ent.Client) error {
		cur, err := client.RetentionPolicy.Query().Where(retentionpolicy.ID(id)).ForUpdate().Only(ctx)
		if ent.IsNotFound(err) {
			return fmt.Errorf("%w: %s", ErrPolicyNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("error loading retention policy: %w", err)
		}
		name, keep, action := cur.Name, cur.KeepDays, cur.Action
		kind := optionalKind(cur.Kind)
		event := optionalString(cur.EventPattern)
		if u.Name != nil {
			name = *u.Name
		}
		if u.KeepDays != nil {
			keep = *u.KeepDays
		}
		if u.Action != nil {
			action = *u.Action
		}
		switch {
		case u.ClearKind && u.Kind != nil:
			return fmt.Errorf("%w: set kind or clearKind, not both", ErrInvalidPolicy)
		case u.ClearKind:
			kind = nil
		case u.Kind != nil:
			kind = u.Kind
		}
		switch {
		case u.ClearEvent && u.Event != nil:
			return fmt.Errorf("%w: set event or clearEvent, not both", ErrInvalidPolicy)
		case u.ClearEvent:
			event = nil
		case u.Event != nil:
			event = u.Event
		}
		if err := validatePolicy(name, kind, event, keep, action); err != nil {
			return err
		}
		up := cur.Update().SetName(strings.TrimSpace(name)).SetKeepDays(keep).SetAction(action)
		if kind == nil {
			up.ClearKind()
		} else {
			up.SetKind(string(*kind))
		}
		if event == nil {
			up.ClearEventPattern()
		} else {
			up.SetEventPattern(*event)
		}
		if u.Enabled != nil {
			up.SetEnabled(*u.Enabled)
		}
		if keep != cur.KeepDays || action != cur.Action || !sameString(kind, cur.Kind) || !sameString(event, cur.EventPattern) {
			up.ClearSweepCursor().ClearSweepCutoff()
		}
		if p, err = up.Save(ctx); err != nil {
			return fmt.Errorf("error updating retention policy: %w", err)
		}
		return r.auditPolicy(ctx, client, "retention_policy.update", p)
	})
	return p, err
}

// DeletePolicy removes the policy id, audited. A run in progress stops at its next batch.
func (r *Retention) DeletePolicy(ctx context.Context, id uuid.UUID) error {
	return txn.Run(ctx, r.db, func(ctx context.Context, _ *sql.Tx, client *ent.Client) error {
		p, err := client.RetentionPolicy.Query().Where(retentionpolicy.ID(id)).ForUpdate().Only(ctx)
		if ent.IsNotFound(err) {
			return fmt.Errorf("%w: %s", ErrPolicyNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("error loading retention policy: %w", err)
		}
		if err := client.RetentionPolicy.DeleteOneID(id).Exec(ctx); err != nil {
			return fmt.Errorf("error deleting retention policy: %w", err)
		}
		return r.auditPolicy(ctx, client, "retention_policy.delete", p)
	})
}

// Policies lists every policy by name (privacySettings).
func (r *Retention) Policies(ctx context.Context) ([]*ent.RetentionPolicy, error) {
	ps, err := r.client.RetentionPolicy.Query().
		Order(ent.Asc(retentionpolicy.FieldName), ent.Asc(retentionpolicy.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("error listing retention policies: %w", err)
	}
	return ps, nil
}

// auditPolicy records a policy change: its definition, which holds no personal data.
func (r *Retention) auditPolicy(ctx context.Context, client *ent.Client, action string, p *ent.RetentionPolicy) error {
	return audit.Record(ctx, client, audit.Event{
		Actor: auth.Actor(ctx), Action: action, TargetType: "RetentionPolicy", TargetID: p.ID.String(),
		Details: map[string]any{"name": p.Name, "kind": p.Kind, "event": p.EventPattern,
			"keep_days": p.KeepDays, "action": string(p.Action), "enabled": p.Enabled},
	})
}

// validatePolicy checks a policy's definition.
func validatePolicy(name string, kind *interaction.Kind, event *string, keepDays int, action retentionpolicy.Action) error {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return fmt.Errorf("%w: name is empty", ErrInvalidPolicy)
	case len(name) > maxPolicyName:
		return fmt.Errorf("%w: name is longer than %d bytes", ErrInvalidPolicy, maxPolicyName)
	case keepDays < 1 || keepDays > MaxKeepDays:
		return fmt.Errorf("%w: keepDays must be from 1 to %d, got %d", ErrInvalidPolicy, MaxKeepDays, keepDays)
	}
	if err := retentionpolicy.ActionValidator(action); err != nil {
		return fmt.Errorf("%w: action %q: want delete or anonymize", ErrInvalidPolicy, action)
	}
	if kind != nil {
		if err := interaction.KindValidator(*kind); err != nil {
			return fmt.Errorf("%w: kind %q is not an interaction kind", ErrInvalidPolicy, *kind)
		}
	}
	if event != nil {
		if _, err := globToLike(*event); err != nil {
			return err
		}
	}
	return nil
}

func optionalKind(s string) *interaction.Kind {
	if s == "" {
		return nil
	}
	k := interaction.Kind(s)
	return &k
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sameString reports whether an optional value equals a stored one ("" = none).
func sameString[T ~string](v *T, stored string) bool {
	if v == nil {
		return stored == ""
	}
	return string(*v) == stored
}
