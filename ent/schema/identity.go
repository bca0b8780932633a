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

// Identity is one identifier of a customer: anonymous_id, user_id, email, phone, device_id or
// external:<source>, with a normalised value.
type Identity struct{ ent.Schema }

// Mixin of the Identity.
func (Identity) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the Identity.
func (Identity) Fields() []ent.Field {
	return []ent.Field{
		field.String("type").NotEmpty().MaxLen(64),
		field.String("value").NotEmpty().MaxLen(512),
		field.UUID("customer_id", uuid.UUID{}),
		field.Time("first_seen_at").Default(time.Now),
		field.Time("last_seen_at").Default(time.Now),
	}
}

// Edges of the Identity.
func (Identity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", Customer.Type).Ref("identities").Field("customer_id").
			Unique().Required(),
	}
}

// Indexes of the Identity.
func (Identity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("type", "value").Unique(),
		index.Fields("customer_id", "type"),
	}
}

// Annotations of the Identity.
func (Identity) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
