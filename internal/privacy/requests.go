// Package privacy carries out what Cairn owes the people it tracks: recording consent and the
// preference page where people change it themselves, erasure that leaves nothing behind but
// keyed hashes on a suppression list, and export of everything held on a person. Work that must
// reach the campaign destinations (removing an erased or withdrawn person) goes through the
// Destinations interface it declares, enqueued in the transaction that made it necessary; the
// jobs that run erasures and exports are enqueued through Scheduler. Identifier values never
// reach audit rows or logs.
package privacy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/secret"
)

// Domain errors; graph maps them to GraphQL codes.
var (
	ErrInvalidInput = errors.New("invalid input")
	ErrNotFound     = errors.New("not found")
	// ErrToken means a preference or export token is malformed, altered, expired or used up.
	ErrToken = errors.New("link invalid or expired")
)

// Destinations reaches every campaign destination a person was synced to. The campaign engine
// implements it; both methods run inside the caller's transaction and must only enqueue work
// there (River InsertTx) and delete its own rows, never call a provider, so the removal commits
// exactly when the erasure or withdrawal does.
type Destinations interface {
	// EraseEverywhere deletes every campaign snapshot row and sync trace naming customers or
	// emails, and enqueues a permanent delete of emails at every destination that held them.
	// Whatever it enqueues must not hold the emails in clear (seal them with secret.Box),
	// because erasure leaves no identifier in any table, river_job included. Such jobs carry
	// the River tag privacy_sealed, which the erasure's cleanup of river_job spares.
	EraseEverywhere(ctx context.Context, tx *sql.Tx, customers []uuid.UUID, emails []string) error
	// WithdrawEverywhere enqueues the removal of customer from every destination it was synced
	// to (an email_marketing withdrawal); the next sync leaves it out as well.
	WithdrawEverywhere(ctx context.Context, tx *sql.Tx, customer uuid.UUID) error
}

// Scheduler enqueues the privacy jobs in the transaction that created their request (jobs/
// implements it with River's InsertTx).
type Scheduler interface {
	ScheduleErasure(ctx context.Context, tx *sql.Tx, request uuid.UUID) (*queue.Job, error)
	ScheduleExport(ctx context.Context, tx *sql.Tx, request uuid.UUID) (*queue.Job, error)
}

// Normalizer normalises an identifier value of a type (identity.Resolver.Normalize).
type Normalizer func(typ, value string) (string, error)

// Config wires a Service.
type Config struct {
	DB           *sql.DB
	Box          *secret.Box
	Suppressions *Suppressions // nil makes one on DB and Box
	Destinations Destinations  // nil: no destinations to reach
	Scheduler    Scheduler     // nil: requests are created but no job runs them
	Normalize    Normalizer    // nil: identity's default normaliser
	// ExportTTL is how long a built export may be downloaded (default 7 days); PreferenceTTL how
	// long a preference link works (default 30 days).
	ExportTTL     time.Duration
	PreferenceTTL time.Duration
	// SweepAfter is how long after an erasure commits it looks once more for the person (events
	// another process accepted before its suppression mirror refreshed) and erases what it
	// finds; default 2 × DefaultRefreshEvery, negative for no sweep.
	SweepAfter time.Duration
	// Registerer receives the privacy metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Service runs privacy requests and consent changes.
type Service struct {
	db    *sql.DB
	box   *secret.Box
	sup   *Suppressions
	dest  Destinations
	sched Scheduler
	norm  Normalizer
	cfg   Config
	m     *metrics
	// beforeSweep, set by tests, runs when an erasure has committed, before its sweep.
	beforeSweep func()
	// beforeExportBuild, set by tests, runs when a preference-page export request has
	// committed, before its document is built.
	beforeExportBuild func()
}

// New returns the service; it registers its metrics on cfg.Registerer.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Box == nil {
		return nil, errors.New("privacy: DB and Box are required")
	}
	if cfg.Suppressions == nil {
		cfg.Suppressions = NewSuppressions(cfg.DB, cfg.Box)
	}
	if cfg.Normalize == nil {
		cfg.Normalize = identity.NewNormalizer(identity.DefaultConfig()).Normalize
	}
	if cfg.ExportTTL <= 0 {
		cfg.ExportTTL = 7 * 24 * time.Hour
	}
	if cfg.PreferenceTTL <= 0 {
		cfg.PreferenceTTL = 30 * 24 * time.Hour
	}
	if cfg.SweepAfter == 0 {
		cfg.SweepAfter = 2 * DefaultRefreshEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Service{db: cfg.DB, box: cfg.Box, sup: cfg.Suppressions, dest: cfg.Destinations,
		sched: cfg.Scheduler, norm: cfg.Normalize, cfg: cfg, m: m}, nil
}

// Suppressions returns the service's suppression list (for ingest's Suppressor).
func (s *Service) Suppressions() *Suppressions { return s.sup }

func (s *Service) normalize(typ, value string) (string, error) {
	if !identity.ValidType(typ) {
		return "", fmt.Errorf("%w: unknown identity type %q", ErrInvalidInput, typ)
	}
	v, err := s.norm(typ, value)
	if err != nil {
		return "", fmt.Errorf("%w: %s value is not a usable identifier", ErrInvalidInput, typ)
	}
	return v, nil
}

// invalid is an ErrInvalidInput with a message.
func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidInput, msg) }

// FailRequest marks an unfinished request failed with a short reason (the job gave up). The
// reason must not hold an identifier; the request keeps its identifier so it can be retried by
// a new request, until an erasure of the person clears it.
func (s *Service) FailRequest(ctx context.Context, id uuid.UUID, kind, reason string) error {
	if err := s.markFailed(ctx, id, reason); err != nil {
		return err
	}
	s.m.requests.WithLabelValues(kind, "failed").Inc()
	return nil
}

// markFailed is FailRequest without the metric.
func (s *Service) markFailed(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE privacy_requests SET status = 'failed', error = $2
		WHERE id = $1 AND status IN ('pending', 'running')`, id, reason)
	if err != nil {
		return fmt.Errorf("error marking the request failed: %w", err)
	}
	return nil
}

// lockRequest loads request id of kind FOR UPDATE and the identifier it is about. The identifier
// is nil when there is nothing left to do: the request is completed, or erasure cleared it.
func lockRequest(ctx context.Context, client *ent.Client, id uuid.UUID, kind privacyrequest.Kind) (*ent.PrivacyRequest, *identity.Identifier, error) {
	req, err := client.PrivacyRequest.Query().
		Where(privacyrequest.ID(id), privacyrequest.KindEQ(kind)).
		ForUpdate().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, fmt.Errorf("%w: %s request %s", ErrNotFound, kind, id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("error loading %s request: %w", kind, err)
	}
	if req.Status == privacyrequest.StatusCompleted || req.IdentityValue == nil {
		return req, nil, nil
	}
	return req, &identity.Identifier{Type: req.IdentityType, Value: *req.IdentityValue}, nil
}
