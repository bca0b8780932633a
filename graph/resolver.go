// Package graph is Cairn's GraphQL layer: hand-written schema files (*.graphqls) extending the
// entgql-generated ent.graphql, thin resolvers that call internal/<domain>, the scope checks
// that guard every root field, and the mapping of domain errors to GraphQL error codes.
package graph

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/profile"
	"github.com/cairn-cdp/cairn/jobs"
)

// JobReader reads River jobs for job(id).
type JobReader interface {
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// Resolver holds the dependencies of every resolver.
type Resolver struct {
	DB     *sql.DB
	Client *ent.Client
	Keys   *auth.Keys
	Jobs   JobReader
	Log    *slog.Logger
	// Normalize normalises identifier values for customerByIdentity; nil uses
	// profile.DefaultNormalize.
	Normalize profile.Normalizer
	Identity  *identity.Resolver // identity resolution and merges (mergeCustomers)
	// SegmentJobs enqueues segment computations on a mutation's transaction (the River
	// client); nil enqueues nothing and computeSegment fails.
	SegmentJobs jobs.JobInserter
	// RFMJobs enqueues computeRFM's job (the River client); nil makes computeRFM fail.
	RFMJobs JobEnqueuer
	// Destinations manages campaign destinations (sealer, provider constructor); nil refuses
	// destination secrets and tests.
	Destinations *campaign.Destinations
	// CampaignSyncs enqueues runCampaignSync's job; nil makes runCampaignSync fail.
	CampaignSyncs CampaignSyncs
}
