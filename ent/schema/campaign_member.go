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

// CampaignMember is one row of a campaign's snapshot: what its destination holds for one
// customer. A row changes only once the destination confirmed (or rejected) the contact.
type CampaignMember struct{ ent.Schema }

// Mixin of the CampaignMember.
func (CampaignMember) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the CampaignMember.
func (CampaignMember) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("campaign_id", uuid.UUID{}),
		// customer_id has no foreign key: a snapshot row outlives its customer (merged or erased)
		// until the destination confirmed the removal.
		field.UUID("customer_id", uuid.UUID{}),
		// email is the normalised address the destination holds (state synced, or failed after
		// it held one), or the address last tried (failed, never held).
		field.String("email"),
		// payload_hash is the hash of the email and merge fields the destination holds; empty
		// when it holds nothing for this customer.
		field.String("payload_hash").Default(""),
		field.Enum("state").Values("synced", "failed", "removed"),
		field.String("last_error").Optional(),
		// last_sync_id is the run that last touched the row: a run skips the contacts it already
		// failed, so it never sends one contact twice.
		field.UUID("last_sync_id", uuid.UUID{}).Optional().Nillable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Edges of the CampaignMember.
func (CampaignMember) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("campaign", Campaign.Type).Ref("members").Field("campaign_id").
			Unique().Required(),
	}
}

// Indexes of the CampaignMember.
func (CampaignMember) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("campaign_id", "customer_id").Unique(),
		// The segment drain finds the campaigns holding a drained customer (campaigns-leaving).
		index.Fields("customer_id"),
	}
}

// Annotations of the CampaignMember.
func (CampaignMember) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
