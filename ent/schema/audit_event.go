package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEvent records who did what to which object. Privacy actions, key changes, merges and
// campaign sends are audited.
type AuditEvent struct{ ent.Schema }

// Mixin of the AuditEvent.
func (AuditEvent) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		// actor is "key:<id>", "cli" or "system".
		field.String("actor").NotEmpty(),
		field.String("action").NotEmpty(),
		field.String("target_type").Optional(),
		field.String("target_id").Optional(),
		field.JSON("details", map[string]any{}).Optional().Annotations(entgql.Type("Map")),
		field.Time("occurred_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("OCCURRED_AT")),
	}
}

// Indexes of the AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("occurred_at"),
		index.Fields("target_type", "target_id"),
	}
}

// Annotations of the AuditEvent.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
