package identity

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/pgarray"
)

// Lock modes of lock-customers.
const (
	lockKeyShare  = 1
	lockNoKeyUpd  = 2
	lockForUpdate = 3
)

// lockCustomers locks, in one ordered statement (lock-customers explains why), every existing
// customer the batch uses: FOR UPDATE both sides of its merges and those gaining identifiers
// (so no other transaction adds to a profile while it is merged away or passes a guard planning
// checked), FOR NO KEY UPDATE those whose row Flush may rewrite (traits, seen times), FOR KEY
// SHARE the rest. Then it checks that none was merged or erased since planning read it, and
// that those gaining identifiers or merging were not given identifiers meanwhile.
func (b *Batch) lockCustomers(ctx context.Context) error {
	mode := map[uuid.UUID]int{}
	raise := func(id uuid.UUID, m int) {
		if mode[id] < m {
			mode[id] = m
		}
	}
	for _, p := range b.order {
		if p.isNew {
			continue
		}
		// Rows Flush may rewrite (traits observed, seen times moved, merged away) need FOR NO
		// KEY UPDATE; the others only FOR KEY SHARE, which concurrent groups about the same
		// people share without waiting.
		m := lockKeyShare
		if len(p.obs) > 0 || p.parent != nil || b.seenChanged(p) {
			m = lockNoKeyUpd
		}
		raise(p.id, m)
	}
	var guarded []uuid.UUID
	for _, m := range b.Merges() {
		raise(m.From, lockForUpdate)
		raise(m.Into, lockForUpdate)
	}
	for _, c := range b.claims {
		if r := c.p.root(); !r.isNew {
			raise(r.id, lockForUpdate)
		}
	}
	if len(mode) == 0 {
		return nil
	}
	ids := slices.SortedFunc(maps.Keys(mode), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	modes := make(pq.Int64Array, len(ids))
	for i, id := range ids {
		modes[i] = int64(mode[id])
		if mode[id] == lockForUpdate {
			guarded = append(guarded, id)
		}
	}
	rows, err := b.r.st.On(ctx, b.tx, "lock-customers").QueryContext(ctx, pgarray.UUIDs(ids), modes)
	if err != nil {
		return fmt.Errorf("error locking customers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var merged sql.NullBool
		if err := rows.Scan(&id, &merged); err != nil {
			return fmt.Errorf("error reading customers: %w", err)
		}
		if !merged.Valid {
			b.r.ids.reset()
			return fmt.Errorf("%w: customer %s was deleted", ErrConcurrentChange, id)
		}
		if merged.Bool {
			b.r.ids.reset()
			return fmt.Errorf("%w: customer %s was merged", ErrConcurrentChange, id)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading customers: %w", err)
	}
	if len(guarded) == 0 {
		return nil
	}
	return b.recheck(ctx, guarded)
}

// recheck re-reads the identifier counts of ids (now locked) and fails with
// ErrConcurrentChange if another transaction changed them after planning read them.
func (b *Batch) recheck(ctx context.Context, ids []uuid.UUID) error {
	now, _, err := b.summaries(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if p := b.profiles[id]; p.summarised && !maps.Equal(p.loaded, now[id]) {
			return fmt.Errorf("%w: identifiers of customer %s changed", ErrConcurrentChange, id)
		}
	}
	return nil
}
