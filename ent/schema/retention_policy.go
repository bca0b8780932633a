package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// RetentionPolicy says how long matching interactions are kept and what happens after.
type RetentionPolicy struct{ ent.Schema }

// Mixin of the RetentionPolicy.
func (RetentionPolicy) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the RetentionPolicy.
func (RetentionPolicy) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		// kind restricts the policy to one interaction kind; empty means all kinds.
		field.String("kind").Optional(),
		// event_pattern is a SQL LIKE pattern on the event name (bound as a parameter).
		field.String("event_pattern").Optional(),
		field.Int("keep_days").Positive(),
		field.Enum("action").Values("delete", "anonymize"),
		field.Bool("enabled").Default(true),
		field.Time("last_run_at").Optional().Nillable(),
	}
}

// Annotations of the RetentionPolicy.
func (RetentionPolicy) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
