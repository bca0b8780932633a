package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PrivacyRequest is a data subject's erasure or export request.
type PrivacyRequest struct{ ent.Schema }

// Mixin of the PrivacyRequest.
func (PrivacyRequest) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the PrivacyRequest.
func (PrivacyRequest) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("erase", "export"),
		field.String("identity_type").NotEmpty(),
		// identity_value is cleared once an erasure completes; subject_hash (keyed HMAC of the
		// identifiers) stays so the request can be proven without holding the identifier.
		field.String("identity_value").Optional().Nillable().Sensitive(),
		field.String("subject_hash").Optional(),
		field.Enum("status").Values("pending", "running", "completed", "failed").Default("pending"),
		field.Time("requested_at").Default(time.Now).Annotations(entgql.OrderField("REQUESTED_AT")),
		field.Time("completed_at").Optional().Nillable(),
		field.JSON("counts", map[string]any{}).Optional().Annotations(entgql.Type("Map")),
		field.JSON("export", map[string]any{}).Optional().Annotations(entgql.Type("Map")),
		field.String("error").Optional(),
	}
}

// Indexes of the PrivacyRequest.
func (PrivacyRequest) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "requested_at"),
		// Erasure clears the identifier from other unfinished requests naming the person; only
		// those hold one, so the index stays small however long the history grows.
		index.Fields("identity_value").StorageKey("privacy_requests_identity_value").
			Annotations(entsql.IndexWhere("identity_value IS NOT NULL")),
	}
}

// Annotations of the PrivacyRequest.
func (PrivacyRequest) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
