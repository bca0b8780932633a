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
		field.Int("updated").Default(0),
		field.Int("removed").Default(0),
		field.Int("failed").Default(0),
		// Segment members left out of the audience: no email, or email_marketing consent not
		// granted (latest decision).
		field.Int("skipped_no_email").Default(0),
		field.Int("skipped_no_consent").Default(0),
		field.Enum("status").Values("running", "succeeded", "failed").Default("running"),
		field.String("error").Optional(),
		// slot is the scheduled time this run serves; empty for delta and manual runs.
		field.Time("slot").Optional().Nillable(),
		// job_id is the River job running the sync: a retried job resumes its own sync row.
		field.Int64("job_id").Optional().Nillable().Annotations(entgql.Skip()),
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
	return []ent.Index{
		index.Fields("campaign_id", "started_at"),
		// At most one running sync per campaign: two runs never send concurrently.
		index.Fields("campaign_id").Unique().Annotations(entsql.IndexWhere("status = 'running'")),
	}
}

// Annotations of the CampaignSync.
func (CampaignSync) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
