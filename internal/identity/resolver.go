package identity

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/namedsql"
)

// Resolver resolves identifiers to customers and merges profiles.
type Resolver struct {
	db   *sql.DB
	cfg  Config
	norm *Normalizer
	st   namedsql.Statements
	log  *slog.Logger
	now  func() time.Time
	ids  *cache
	// trail writes the audit events of merges and conflicts.
	trail *audit.Writer
}

// New prepares the resolver's queries on db (failing fast if one is broken).
func New(ctx context.Context, db *sql.DB, cfg Config, log *slog.Logger) (*Resolver, error) {
	if log == nil {
		log = slog.Default()
	}
	st, err := namedsql.Prepare(ctx, db, queriesSQL)
	if err != nil {
		return nil, err
	}
	trail, err := audit.NewWriter(ctx, db)
	if err != nil {
		st.Close()
		return nil, err
	}
	size := cfg.CacheSize
	if size == 0 {
		size = 500_000
	}
	return &Resolver{db: db, cfg: cfg, norm: NewNormalizer(cfg), st: st, log: log, now: time.Now, ids: newCache(size), trail: trail}, nil
}

// Close releases the prepared statements.
func (r *Resolver) Close() {
	r.st.Close()
	r.trail.Close()
}

// Normalizer returns the resolver's identifier normaliser.
func (r *Resolver) Normalizer() *Normalizer { return r.norm }

// Normalize is Normalizer().Normalize, usable as a profile.Normalizer.
func (r *Resolver) Normalize(typ, value string) (string, error) { return r.norm.Normalize(typ, value) }

// Unknown returns the identifiers Resolve would look up for subjects that the resolver has no
// committed resolution for in its cache: the ones resolving them may claim as new. (A cached
// identifier is already stored, so no batch claims it again.)
func (r *Resolver) Unknown(subjects []Subject) []Identifier {
	return r.ids.get(subjectKeys(subjects), func(Identifier, cacheEntry) {})
}

// Forget empties the resolver's cache of identifier resolutions (after customers were deleted,
// say); later batches look identifiers up again.
func (r *Resolver) Forget() { r.ids.reset() }

// IsRetryable reports whether err means the transaction lost a race and may simply be retried:
// ErrConcurrentChange, a deadlock, a serialization failure, a unique violation on a row a
// concurrent transaction inserted, or a foreign key violation on a customer a concurrent
// transaction deleted (erasure; call Forget before retrying).
func IsRetryable(err error) bool {
	if errors.Is(err, ErrConcurrentChange) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "40001", "40P01", "23505", "23503":
			return true
		}
	}
	return false
}
