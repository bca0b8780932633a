package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Destination is an email provider connection.
type Destination struct{ ent.Schema }

// Mixin of the Destination.
func (Destination) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Destination.
func (Destination) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("mailchimp", "sendgrid", "webhook"),
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		// config holds provider settings; secret values in it are sealed (internal/campaign's
		// Sealer, keyed by CAIRN_SECRET_KEY) and never returned through the API.
		field.JSON("config", map[string]any{}).Sensitive().Annotations(entgql.Skip()),
		// enabled false stops every sync to the destination (runs fail fast) without deleting it.
		field.Bool("enabled").Default(true),
	}
}

// Edges of the Destination.
func (Destination) Edges() []ent.Edge {
	return []ent.Edge{edge.To("campaigns", Campaign.Type)}
}

// Annotations of the Destination.
func (Destination) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
