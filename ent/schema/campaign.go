package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Campaign syncs a segment's consenting members to a destination on a schedule.
type Campaign struct{ ent.Schema }

// Mixin of the Campaign.
func (Campaign) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Campaign.
func (Campaign) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		field.UUID("segment_id", uuid.UUID{}),
		field.UUID("destination_id", uuid.UUID{}),
		field.Enum("schedule_kind").Values("at", "cron").Optional().Nillable(),
		field.Time("schedule_at").Optional().Nillable(),
		field.String("schedule_cron").Optional().Nillable(),
		field.String("schedule_timezone").Optional().Nillable(),
		field.Time("next_run_at").Optional().Nillable(),
		field.Enum("status").Values("draft", "scheduled", "paused", "completed").Default("draft"),
		// fields maps each merge field sent to the destination to its source: "email",
		// "customer_id" or "trait:<key>" (see internal/campaign).
		field.JSON("fields", map[string]string{}).Optional().Annotations(entgql.Type("Map")),
		// conversion_window_days: an Order Completed within this many days of a click counts
		// as a conversion.
		field.Int("conversion_window_days").Default(7).Min(1).Max(365),
	}
}

// Edges of the Campaign.
func (Campaign) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("segment", Segment.Type).Ref("campaigns").Field("segment_id").
			Unique().Required(),
		edge.From("destination", Destination.Type).Ref("campaigns").Field("destination_id").
			Unique().Required(),
		edge.To("syncs", CampaignSync.Type).Annotations(entgql.RelayConnection()),
		edge.To("members", CampaignMember.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Campaign.
func (Campaign) Indexes() []ent.Index {
	// The due-campaign scan of the periodic enqueuer.
	return []ent.Index{index.Fields("next_run_at").Annotations(entsql.IndexWhere("status = 'scheduled'"))}
}

// Annotations of the Campaign.
func (Campaign) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}
