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

// CampaignSync is one run of a campaign's audience sync.
type CampaignSync struct{ ent.Schema }

// Mixin of the CampaignSync.
func (CampaignSync) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the CampaignSync.
func (CampaignSync) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("campaign_id", uuid.UUID{}),
		field.Time("started_at").Default(time.Now).Annotations(entgql.OrderField("STARTED_AT")),
		field.Time("finished_at").Optional().Nillable(),
		field.Int("added").Default(0),
		field.Int("removed").Default(0),
		field.Int("failed").Default(0),
		field.Enum("status").Values("running", "succeeded", "failed").Default("running"),
		field.String("error").Optional(),
	}
}

// Edges of the CampaignSync.
func (CampaignSync) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("campaign", Campaign.Type).Ref("syncs").Field("campaign_id").
			Unique().Required(),
	}
}

// Indexes of the CampaignSync.
func (CampaignSync) Indexes() []ent.Index {
	return []ent.Index{index.Fields("campaign_id", "started_at")}
}

// Annotations of the CampaignSync.
func (CampaignSync) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
