package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Consent is one recorded consent decision; history is kept and the latest per purpose wins.
type Consent struct{ ent.Schema }

// Mixin of the Consent.
func (Consent) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the Consent.
func (Consent) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("customer_id", uuid.UUID{}),
		field.String("purpose").NotEmpty().MaxLen(64),
		field.Bool("granted"),
		field.String("source").Optional(),
		field.Time("recorded_at").Default(time.Now).Annotations(entgql.OrderField("RECORDED_AT")),
		field.JSON("proof", map[string]any{}).Optional().Annotations(entgql.Type("Map")),
	}
}

// Edges of the Consent.
func (Consent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", Customer.Type).Ref("consents").Field("customer_id").
			Unique().Required(),
	}
}

// Indexes of the Consent.
func (Consent) Indexes() []ent.Index {
	// Latest decision per (customer, purpose) is an index-only backward scan.
	return []ent.Index{index.Fields("customer_id", "purpose", "recorded_at")}
}

// Annotations of the Consent.
func (Consent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
