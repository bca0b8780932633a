package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Segment is a named audience defined by a rule tree.
type Segment struct{ ent.Schema }

// Mixin of the Segment.
func (Segment) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Segment.
func (Segment) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Unique().
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Optional(),
		// rule is the stored SegmentRuleInput tree; exposed by a resolver as JSON.
		field.JSON("rule", map[string]any{}).Annotations(entgql.Skip()),
		field.Int("refresh_every_seconds").Default(3600).Positive(),
		field.Int("member_count").Default(0),
		field.Time("last_computed_at").Optional().Nillable().
			Annotations(entgql.OrderField("LAST_COMPUTED_AT")),
		field.Enum("status").Values("pending", "computing", "ready", "failed").Default("pending"),
		field.String("error").Optional(),
	}
}

// Edges of the Segment.
func (Segment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", SegmentMembership.Type).Annotations(entgql.Skip()),
		edge.To("campaigns", Campaign.Type),
	}
}

// Annotations of the Segment.
func (Segment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
