package identity

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent/schema"
	"github.com/cairn-cdp/cairn/internal/pgarray"
)

// Flush writes the first part of the batch in its transaction: it locks every existing customer
// the batch uses (lockCustomers), merges traits, applies merges (moving identities,
// interactions, consents and memberships), inserts new profiles and identities, and records the
// audit events of merges and conflicts. Call it after the last Observe and before storing what
// references the profiles; then call Finish. actor names who acts ("key:<id>", "system"). It
// returns ErrConcurrentChange when a customer was merged, erased or given identifiers since
// planning read it, or another transaction claimed one of the new identifiers first.
func (b *Batch) Flush(ctx context.Context, actor string) error {
	if err := b.lockCustomers(ctx); err != nil {
		return err
	}
	if err := b.loadTraits(ctx); err != nil {
		return err
	}
	roots := map[*profile]bool{}
	for _, p := range b.order {
		roots[p.root()] = true
	}
	// Merge traits of merged profiles, then apply observations, per root.
	changed := map[*profile]bool{}
	for _, p := range b.order {
		if p.parent != nil && !p.isNew {
			r := p.root()
			if mergeTraits(r, p) {
				changed[r] = true
			}
			if r.email == "" {
				r.email = p.email
			}
			if r.phone == "" {
				r.phone = p.phone
			}
		}
	}
	for r := range roots {
		if b.applyObservations(r) {
			changed[r] = true
		}
	}

	merges := b.Merges()
	if err := b.executeMerges(ctx, merges); err != nil {
		return err
	}
	var a flushArgs
	if err := b.newArgs(&a, roots, changed); err != nil {
		return err
	}
	b.claimArgs(&a)
	var claimed, created int64
	err := b.r.st.On(ctx, b.tx, "flush-create").QueryRowContext(ctx,
		a.newIDs, a.newCreated, a.newTraits, a.newTimes, a.newEmails, a.newPhones, a.newFirsts, a.newLasts,
		a.claimIDs, a.claimTypes, a.claimValues, a.claimCustomers, a.claimSeen).Scan(&claimed, &created)
	if err != nil {
		return fmt.Errorf("error writing profiles and identities: %w", err)
	}
	if claimed != int64(len(a.claimIDs)) {
		return fmt.Errorf("%w: %d of %d new identifiers were claimed by another transaction", ErrConcurrentChange, int64(len(a.claimIDs))-claimed, len(a.claimIDs))
	}
	if err := b.updateArgs(&a, roots, changed, merges); err != nil {
		return err
	}
	b.pending = &a
	return b.r.trail.RecordAll(ctx, b.tx, b.auditEvents(actor, merges))
}

// Finish writes the rest of the batch, after the caller has stored what references the
// profiles (events, consents): changed traits and seen times, identities' seen times and the
// segment_dirty_customers rows, and checks that no profile the batch used was merged away by a
// transaction that committed before this one's foreign key locks (ErrConcurrentChange: retry).
// Call it last in the transaction, so the row locks it takes are held briefly.
func (b *Batch) Finish(ctx context.Context) error {
	a := b.pending
	if a == nil {
		return errors.New("identity: Finish called before Flush")
	}
	b.touchArgs(a)
	a.dirty = pgarray.UUIDs(b.Touched())
	var used []uuid.UUID
	for _, p := range b.order {
		if r := p.root(); !r.isNew && p == r {
			used = append(used, r.id)
		}
	}
	var written, merged int64
	err := b.r.st.On(ctx, b.tx, "flush-update").QueryRowContext(ctx,
		a.updIDs, a.updTraits, a.updTimes, a.updEmails, a.updPhones, a.updFirsts, a.updLasts,
		a.touchTypes, a.touchValues, a.touchSeen, a.dirty, pgarray.UUIDs(used)).Scan(&written, &merged)
	if err != nil {
		return fmt.Errorf("error updating profiles: %w", err)
	}
	if merged > 0 {
		b.r.ids.reset()
		return fmt.Errorf("%w: %d customers were merged away meanwhile", ErrConcurrentChange, merged)
	}
	return nil
}

// flushArgs are the parallel arrays of the flush statement.
type flushArgs struct {
	newIDs, newCreated, newTraits, newTimes, newEmails, newPhones, newFirsts, newLasts pq.StringArray
	claimIDs, claimTypes, claimValues, claimCustomers, claimSeen                       pq.StringArray
	updIDs, updTraits, updTimes, updEmails, updPhones, updFirsts, updLasts             pq.StringArray
	touchTypes, touchValues, touchSeen                                                 pq.StringArray
	dirty                                                                              pq.StringArray
}

// seenChanged reports whether the batch moves p's stored seen times by more than the
// configured granularity (so Flush rewrites its row for them).
func (b *Batch) seenChanged(p *profile) bool {
	return p.firstSeen.Before(p.loadedFirst) || p.lastSeen.Sub(p.loadedL) > b.r.cfg.SeenGranularity
}

func (b *Batch) executeMerges(ctx context.Context, merges []Merge) error {
	if len(merges) == 0 {
		return nil
	}
	from, into := make([]uuid.UUID, len(merges)), make([]uuid.UUID, len(merges))
	for i, m := range merges {
		from[i], into[i] = m.From, m.Into
	}
	for _, q := range []string{"merge-identities", "merge-interactions", "merge-consents",
		"merge-memberships-dedupe", "merge-memberships", "merge-customers"} {
		if _, err := b.r.st.On(ctx, b.tx, q).ExecContext(ctx, pgarray.UUIDs(from), pgarray.UUIDs(into)); err != nil {
			return fmt.Errorf("error merging customers (%s): %w", q, err)
		}
	}
	return nil
}

func (b *Batch) newArgs(a *flushArgs, roots, changed map[*profile]bool) error {
	for _, p := range b.order {
		if !p.isNew || !roots[p] {
			continue
		}
		t, tt := "{}", "{}"
		if changed[p] {
			var err error
			if t, tt, err = encodeTraits(p); err != nil {
				return err
			}
		}
		a.newIDs = append(a.newIDs, p.id.String())
		a.newCreated = append(a.newCreated, ts(p.createdAt))
		a.newTraits, a.newTimes = append(a.newTraits, t), append(a.newTimes, tt)
		a.newEmails, a.newPhones = append(a.newEmails, p.email), append(a.newPhones, p.phone)
		a.newFirsts, a.newLasts = append(a.newFirsts, ts(p.firstSeen)), append(a.newLasts, ts(p.lastSeen))
	}
	return nil
}

func (b *Batch) claimArgs(a *flushArgs) {
	// Sorted by (type, value): concurrent claimers then queue in one order (no deadlock).
	slices.SortFunc(b.claims, func(x, y claim) int {
		return cmp.Or(cmp.Compare(x.id.Type, y.id.Type), cmp.Compare(x.id.Value, y.id.Value))
	})
	for _, c := range b.claims {
		a.claimIDs = append(a.claimIDs, schema.NewID().String())
		a.claimTypes, a.claimValues = append(a.claimTypes, c.id.Type), append(a.claimValues, c.id.Value)
		a.claimCustomers = append(a.claimCustomers, c.p.root().id.String())
		a.claimSeen = append(a.claimSeen, ts(c.at))
	}
}

func (b *Batch) updateArgs(a *flushArgs, roots, changed map[*profile]bool, merges []Merge) error {
	mergedInto := map[uuid.UUID]bool{}
	for _, m := range merges {
		mergedInto[m.Into] = true
	}
	// In id order (the rows are already locked by lockCustomers; the order only keeps the
	// statement's arrays deterministic).
	order := slices.Clone(b.order)
	slices.SortFunc(order, func(x, y *profile) int { return bytes.Compare(x.id[:], y.id[:]) })
	for _, p := range order {
		if p.isNew || !roots[p] {
			continue
		}
		if !changed[p] && !b.seenChanged(p) && !mergedInto[p.id] {
			continue
		}
		t, tt := "", ""
		if changed[p] {
			var err error
			if t, tt, err = encodeTraits(p); err != nil {
				return err
			}
		}
		last := p.lastSeen
		if b.wrote == nil {
			b.wrote = map[*profile]bool{}
		}
		b.wrote[p] = true
		a.updIDs = append(a.updIDs, p.id.String())
		a.updTraits, a.updTimes = append(a.updTraits, t), append(a.updTimes, tt)
		a.updEmails, a.updPhones = append(a.updEmails, p.email), append(a.updPhones, p.phone)
		a.updFirsts, a.updLasts = append(a.updFirsts, ts(p.firstSeen)), append(a.updLasts, ts(last))
	}
	return nil
}

func (b *Batch) touchArgs(a *flushArgs) {
	keys := slices.SortedFunc(maps.Keys(b.touch), func(x, y Identifier) int {
		return cmp.Or(cmp.Compare(x.Type, y.Type), cmp.Compare(x.Value, y.Value))
	})
	for _, k := range keys {
		a.touchTypes, a.touchValues = append(a.touchTypes, k.Type), append(a.touchValues, k.Value)
		a.touchSeen = append(a.touchSeen, ts(b.touch[k]))
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
