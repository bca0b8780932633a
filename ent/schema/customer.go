package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent/schematype"
)

// Customer is the unified profile of one person.
type Customer struct{ ent.Schema }

// Mixin of the Customer.
func (Customer) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Customer.
func (Customer) Fields() []ent.Field {
	return []ent.Field{
		// traits stay encoded (schematype.Object): lists and profiles pass them through to
		// GraphQL without decoding; the SQL that merges and filters them reads the jsonb.
		field.Other("traits", schematype.Object{}).Default(schematype.Object("{}")).
			SchemaType(map[string]string{dialect.Postgres: "jsonb"}).
			Annotations(entgql.Type("Map"), entgql.Skip(entgql.SkipWhereInput)),
		// trait_times holds, per trait key, the event time of the value in traits, so a late
		// event cannot overwrite a newer value (per-key last-write-wins).
		field.JSON("trait_times", map[string]time.Time{}).Default(map[string]time.Time{}).
			Annotations(entgql.Skip()),
		field.String("email").Optional().Nillable().
			Annotations(entgql.OrderField("EMAIL")),
		field.String("phone").Optional().Nillable(),
		field.Time("first_seen_at").Default(time.Now).
			Annotations(entgql.OrderField("FIRST_SEEN_AT")),
		field.Time("last_seen_at").Default(time.Now).
			Annotations(entgql.OrderField("LAST_SEEN_AT")),
		field.UUID("merged_into_id", uuid.UUID{}).Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Time("merged_at").Optional().Nillable(),
		// RFM, written by the ComputeRFM job; exposed through the Customer.rfm resolver.
		field.Int("rfm_recency").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("rfm_frequency").Optional().Nillable().Annotations(entgql.Skip()),
		field.Float("rfm_monetary").Optional().Nillable().
			SchemaType(map[string]string{"postgres": "numeric(18,4)"}).Annotations(entgql.Skip()),
		field.Int("rfm_recency_score").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("rfm_frequency_score").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("rfm_monetary_score").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("rfm_score").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("rfm_label").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("rfm_computed_at").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Edges of the Customer.
func (Customer) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("identities", Identity.Type),
		edge.To("interactions", Interaction.Type).
			Annotations(entgql.RelayConnection()),
		edge.To("consents", Consent.Type),
		edge.To("memberships", SegmentMembership.Type).
			Annotations(entgql.Skip()),
		edge.To("merged_from", Customer.Type).
			From("merged_into").Field("merged_into_id").Unique(),
	}
}

// Indexes of the Customer.
func (Customer) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("email"),
		index.Fields("last_seen_at"),
		// No index on rfm_label: every RFM write changes it, and an indexed column makes each of
		// a first computation's ~460k updates (1M customers) non-HOT and writes the index too
		// (measured 1.2 s of 11 s). Rules on rfm alone scan customers instead (~0.3 s at 1M).
		// Merged-away profiles (~1%): merges re-point profiles merged into the one they merge
		// away (merge-customers), lookups of mergedFrom, and RFM's exclusion of merged
		// profiles find them here instead of scanning every customer.
		index.Fields("merged_into_id").Annotations(entsql.IndexWhere("merged_into_id IS NOT NULL")),
		// Live profiles only: most queries exclude merged-away customers.
		index.Fields("created_at").Annotations(entsql.IndexWhere("merged_into_id IS NULL")),
	}
}

// Annotations of the Customer.
func (Customer) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
	}
}
