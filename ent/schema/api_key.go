package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// APIKey authenticates callers. Only the SHA-256 of the secret is stored.
type APIKey struct{ ent.Schema }

// Mixin of the APIKey.
func (APIKey) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		// prefix is the public, non-secret head of the key, used to find the row.
		field.String("prefix").NotEmpty().Unique().Immutable(),
		field.Bytes("hash").Sensitive().Immutable(),
		field.Strings("scopes"),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Annotations of the APIKey.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("apiKeys"),
		entgql.RelayConnection(),
		entgql.Type("APIKey"),
	}
}
