package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// maxAttempts bounds retries of a transaction that lost a race (ErrConcurrentChange).
const maxAttempts = 5

// Merge merges customer from into customer into, which survives whatever the profiles' ages (an
// operator chose it), through the same guards and writes as merges found by ingestion: the
// identities, interactions, consents and segment memberships of from move to into, traits merge
// with the newer value per key winning, from gets mergedInto, and a customer.merge audit event
// records it. Merged-away ids are followed to their live profile first; merging a profile with
// itself is a no-op. A merge the guards refuse (two user_ids, an identifier limit) returns
// ErrConflict and changes nothing.
func (r *Resolver) Merge(ctx context.Context, from, into uuid.UUID, actor string) (uuid.UUID, error) {
	if from == into {
		return uuid.Nil, fmt.Errorf("%w: cannot merge a customer into itself", ErrInvalidInput)
	}
	var survivor uuid.UUID
	var err error
	for range maxAttempts {
		survivor, err = r.mergeOnce(ctx, from, into, actor)
		if !IsRetryable(err) {
			break
		}
	}
	return survivor, err
}

func (r *Resolver) mergeOnce(ctx context.Context, from, into uuid.UUID, actor string) (uuid.UUID, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return uuid.Nil, fmt.Errorf("error beginning transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := r.st.On(ctx, tx, "hold-segment-queue").ExecContext(ctx); err != nil {
		return uuid.Nil, fmt.Errorf("error waiting for segment changes: %w", err)
	}
	liveFrom, err := r.live(ctx, tx, from)
	if err != nil {
		return uuid.Nil, err
	}
	liveInto, err := r.live(ctx, tx, into)
	if err != nil {
		return uuid.Nil, err
	}
	if liveFrom == liveInto {
		return liveInto, nil
	}
	b := r.newBatch(tx, 2)
	b.reason = "manual"
	pf, pi := b.profileFor(liveFrom), b.profileFor(liveInto)
	if err := b.read(ctx, []uuid.UUID{liveFrom, liveInto}); err != nil {
		return uuid.Nil, err
	}
	if err := b.summarise(ctx, []uuid.UUID{liveFrom, liveInto}); err != nil {
		return uuid.Nil, err
	}
	if reason := b.clash(pi.counts, pf.counts); reason != "" {
		return uuid.Nil, fmt.Errorf("%w: customers %s and %s cannot be merged (%s)", ErrConflict, liveFrom, liveInto, conflictText(reason))
	}
	b.union(pf, pi)
	if err := b.Flush(ctx, actor); err != nil {
		return uuid.Nil, err
	}
	if err := b.Finish(ctx); err != nil {
		return uuid.Nil, err
	}
	if err := tx.Commit(); err != nil {
		return uuid.Nil, fmt.Errorf("error committing merge: %w", err)
	}
	b.Committed()
	return liveInto, nil
}

func conflictText(reason string) string {
	if reason == TypeUserID {
		return "each holds a different user_id"
	}
	return "the merged profile would exceed the identifier limit " + reason
}

// live follows merged_into from id to the live profile.
func (r *Resolver) live(ctx context.Context, tx *sql.Tx, id uuid.UUID) (uuid.UUID, error) {
	var out uuid.UUID
	err := r.st.On(ctx, tx, "resolve-live").QueryRowContext(ctx, id.String()).Scan(&out)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("error loading customer %s: %w", id, err)
	}
	return out, nil
}
