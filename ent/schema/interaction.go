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

// Interaction is one event a customer did (Segment Spec message).
type Interaction struct{ ent.Schema }

// Fields of the Interaction.
func (Interaction) Fields() []ent.Field {
	return []ent.Field{
		// IDMixin's UUIDv7 id, declared here to be orderable: ids grow with the time of ingest,
		// so "newest first" (the root interactions connection's default) is a backward scan of
		// the primary key instead of a sort of every interaction.
		field.UUID("id", uuid.UUID{}).Default(NewID).Immutable().Annotations(entgql.OrderField("ID")),
		field.Enum("kind").Values("track", "page", "screen", "identify", "group", "alias"),
		field.String("event").Optional().Nillable().MaxLen(512),
		field.JSON("properties", map[string]any{}).Optional().Annotations(entgql.Type("Map")),
		field.JSON("context", map[string]any{}).Optional().Annotations(entgql.Type("Map")),
		field.Time("occurred_at").Annotations(entgql.OrderField("OCCURRED_AT")),
		field.Time("received_at").Default(time.Now).Annotations(entgql.OrderField("RECEIVED_AT")),
		field.String("message_id").NotEmpty().MaxLen(100),
		field.Float("revenue").Optional().Nillable().
			SchemaType(map[string]string{"postgres": "numeric(18,4)"}),
		field.String("source").Optional(),
		field.String("channel").Optional(),
		field.UUID("customer_id", uuid.UUID{}),
	}
}

// Edges of the Interaction.
func (Interaction) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", Customer.Type).Ref("interactions").Field("customer_id").
			Unique().Required(),
	}
}

// Indexes of the Interaction.
func (Interaction) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("message_id").Unique(),
		index.Fields("customer_id", "occurred_at"),
		// Segment event conditions and RFM scan (customer, event, time) ranges.
		index.Fields("customer_id", "event", "occurred_at"),
		// Segment event-count conditions aggregate one event's window per customer: with
		// customer_id included that is an index-only scan instead of a bitmap heap scan of every
		// page holding a window event (1M customers / 10M events, 800k window events: see
		// internal/segment/PLANS.md).
		index.Fields("event", "occurred_at").
			Annotations(entsql.IncludeColumns("customer_id")),
		// RFM (internal/rfm) aggregates orders per customer in a window: covering and partial, it
		// makes that an index-only scan over order rows alone, in customer order, instead of a
		// bitmap heap scan of every interaction page in the window (1M customers / 10M
		// interactions: 3–5 s → 0.3–0.5 s). Only order events pay for it at ingest.
		index.Fields("customer_id", "occurred_at").
			StorageKey("interaction_orders_rfm").
			Annotations(
				entsql.IndexWhere("event = 'Order Completed'"),
				entsql.IncludeColumns("revenue"),
			),
	}
}

// Annotations of the Interaction.
func (Interaction) Annotations() []schema.Annotation {
	// QueryField: the root interactions connection (the console's live events page).
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
