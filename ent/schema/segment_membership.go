package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// SegmentMembership is one stay of a customer in a segment. History is kept: leaving sets
// exited_at, re-entering opens a new row.
type SegmentMembership struct{ ent.Schema }

// Mixin of the SegmentMembership.
func (SegmentMembership) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the SegmentMembership.
func (SegmentMembership) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("segment_id", uuid.UUID{}),
		field.UUID("customer_id", uuid.UUID{}),
		field.Time("entered_at").Default(time.Now).Annotations(entgql.OrderField("ENTERED_AT")),
		field.Time("exited_at").Optional().Nillable(),
	}
}

// Edges of the SegmentMembership.
func (SegmentMembership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("segment", Segment.Type).Ref("memberships").Field("segment_id").
			Unique().Required(),
		edge.From("customer", Customer.Type).Ref("memberships").Field("customer_id").
			Unique().Required(),
	}
}

// Indexes of the SegmentMembership.
func (SegmentMembership) Indexes() []ent.Index {
	return []ent.Index{
		// At most one open stay per (segment, customer); the membership diff relies on it.
		index.Fields("segment_id", "customer_id").Unique().
			Annotations(entsql.IndexWhere("exited_at IS NULL")),
		index.Fields("customer_id").Annotations(entsql.IndexWhere("exited_at IS NULL")),
		index.Fields("segment_id", "entered_at"),
	}
}

// Annotations of the SegmentMembership.
func (SegmentMembership) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
