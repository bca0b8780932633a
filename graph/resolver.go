// Package graph owns Cairn's GraphQL layer: hand-written schema files (*.graphqls) extending the
// entgql-generated ent.graphql, thin resolvers that call internal/<domain>, the scope checks
// that guard every root field, and the mapping of domain errors to GraphQL error codes. It
// reaches the job queue only through the interfaces in Resolver (internal/queue, segment, rfm);
// it imports neither jobs nor River.
package graph

import (
	"database/sql"
	"log/slog"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/profile"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/rfm"
	"github.com/cairn-cdp/cairn/internal/segment"
)

// Resolver holds the dependencies of every resolver. The job queue comes in through the
// River-free interfaces of internal/queue, segment and rfm; cmd plugs jobs/ into them.
type Resolver struct {
	DB     *sql.DB
	Client *ent.Client
	Keys   *auth.Keys
	Jobs   queue.Reader // job(id)
	Log    *slog.Logger
	// Normalize normalises identifier values for customerByIdentity; nil uses
	// profile.DefaultNormalize.
	Normalize profile.Normalizer
	Identity  *identity.Resolver // identity resolution and merges (mergeCustomers)
	// SegmentJobs enqueues segment computations on a mutation's transaction; nil enqueues
	// nothing and computeSegment fails.
	SegmentJobs segment.Scheduler
	// RFMJobs enqueues computeRFM's job; nil makes computeRFM fail.
	RFMJobs rfm.Scheduler
	// Destinations manages campaign destinations (sealer, provider constructor); nil refuses
	// destination secrets and tests.
	Destinations *campaign.Destinations
	// CampaignSyncs enqueues runCampaignSync's job; nil makes runCampaignSync fail.
	CampaignSyncs CampaignSyncs
	// Tracking builds tracked links (Campaign.trackedLink); nil when tracking is off.
	Tracking *campaign.Tracking
	// RetentionJobs enqueues runRetention's sweep; nil makes runRetention fail.
	RetentionJobs privacy.RetentionScheduler
	// Collection is what ingest collects and drops, for privacySettings.
	Collection privacy.Collection
	// Privacy runs consents, erasures, exports and the suppression list; nil makes those
	// fields fail.
	Privacy *privacy.Service
}
