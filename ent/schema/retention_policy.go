package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
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
		// event_pattern is a glob on the event name (`*` any run, `?` one character); empty
		// means every event, named or not. internal/privacy translates it to a bound LIKE.
		field.String("event_pattern").Optional().MaxLen(512),
		field.Int("keep_days").Positive(),
		field.Enum("action").Values("delete", "anonymize"),
		field.Bool("enabled").Default(true),
		field.Time("last_run_at").Optional().Nillable(),
		// rows_affected counts the rows the current run (while sweep_cursor is set) or the last
		// completed run deleted or anonymized.
		field.Int64("rows_affected").Default(0),
		// sweep_cursor and sweep_cutoff hold an unfinished run's position: the last interaction
		// id it committed and the occurred_at bound it applies. The next run resumes there.
		field.UUID("sweep_cursor", uuid.UUID{}).Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("sweep_cutoff").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Annotations of the RetentionPolicy.
func (RetentionPolicy) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
