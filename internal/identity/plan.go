package identity

import (
	"context"
	"database/sql"
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

// Resolve plans subjects inside tx: it looks up their identifiers and the customers they
// belong to, and decides, message by message in order, each message's customer, the merges and
// the new identifiers. It writes nothing and locks no row (it only holds hold-segment-queue's
// advisory lock shared, first thing in tx); Flush locks, re-checks and writes. It returns
// ErrConcurrentChange when a customer it read turned out merged by a transaction that committed
// meanwhile.
func (r *Resolver) Resolve(ctx context.Context, tx *sql.Tx, subjects []Subject) (*Batch, error) {
	if _, err := r.st.On(ctx, tx, "hold-segment-queue").ExecContext(ctx); err != nil {
		return nil, fmt.Errorf("error waiting for segment changes: %w", err)
	}
	for i := range subjects {
		subjects[i].IDs = dedupe(subjects[i].IDs)
	}
	keys := subjectKeys(subjects)
	b := r.newBatch(tx, len(keys))
	b.reason = "identify"
	misses := r.ids.get(keys, func(k Identifier, e cacheEntry) {
		b.owner[k] = b.profileFor(e.customer)
		b.seen[k] = e.seen
	})
	if err := b.lookup(ctx, misses); err != nil {
		return nil, err
	}
	unread := r.ids.customers(slices.Collect(maps.Keys(b.profiles)), func(id uuid.UUID, e customerEntry) {
		p := b.profiles[id]
		p.createdAt = e.created
		p.firstSeen, p.lastSeen, p.loadedFirst, p.loadedL = e.first, e.last, e.first, e.last
	})
	if err := b.read(ctx, unread); err != nil {
		if errors.Is(err, ErrConcurrentChange) {
			r.ids.reset()
		}
		return nil, err
	}
	if err := b.prefetchSummaries(ctx, subjects); err != nil {
		return nil, err
	}
	b.cust = make([]*profile, len(subjects))
	for i, s := range subjects {
		p, err := b.plan(ctx, s)
		if err != nil {
			return nil, err
		}
		b.cust[i] = p
	}
	return b, nil
}

// subjectKeys are the distinct identifiers resolving subjects looks up: their identifiers and,
// for an alias's previousId, both the user_id and the anonymous_id it may be.
func subjectKeys(subjects []Subject) []Identifier {
	n := 0
	for _, s := range subjects {
		n += len(s.IDs)
	}
	keys := make(map[Identifier]struct{}, n)
	for _, s := range subjects {
		for _, id := range s.IDs {
			keys[id] = struct{}{}
		}
		if v := s.Previous; v != "" {
			keys[Identifier{TypeUserID, v}] = struct{}{}
			keys[Identifier{TypeAnonymousID, v}] = struct{}{}
		}
	}
	return slices.Collect(maps.Keys(keys))
}

func (b *Batch) lookup(ctx context.Context, keys []Identifier) error {
	if len(keys) == 0 {
		return nil
	}
	types, values := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		types[i], values[i] = k.Type, k.Value
	}
	rows, err := b.r.st.On(ctx, b.tx, "lookup-identities").QueryContext(ctx, pq.StringArray(types), pq.StringArray(values))
	if err != nil {
		return fmt.Errorf("error looking up identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k Identifier
		var cust uuid.UUID
		var seen time.Time
		if err := rows.Scan(&k.Type, &k.Value, &cust, &seen); err != nil {
			return fmt.Errorf("error reading identities: %w", err)
		}
		b.owner[k] = b.profileFor(cust)
		b.seen[k] = seen
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading identities: %w", err)
	}
	return nil
}

// read loads the planning fields of ids (existing customers), without locking them.
func (b *Batch) read(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := b.r.st.On(ctx, b.tx, "read-customers").QueryContext(ctx, pgarray.UUIDs(ids))
	if err != nil {
		return fmt.Errorf("error reading customers: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id uuid.UUID
		var merged bool
		var created, first, last time.Time
		if err := rows.Scan(&id, &merged, &created, &first, &last); err != nil {
			return fmt.Errorf("error reading customers: %w", err)
		}
		if merged {
			return fmt.Errorf("%w: customer %s was merged", ErrConcurrentChange, id)
		}
		p := b.profiles[id]
		p.createdAt = created
		p.firstSeen, p.lastSeen, p.loadedFirst, p.loadedL = first, last, first, last
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading customers: %w", err)
	}
	if n != len(ids) {
		return fmt.Errorf("%w: a customer was deleted", ErrConcurrentChange)
	}
	return nil
}

// prefetchSummaries loads, in one query, the identifier summaries planning will need: those of
// customers met in a message that links several customers or brings a new identifier.
func (b *Batch) prefetchSummaries(ctx context.Context, subjects []Subject) error {
	need := map[uuid.UUID]struct{}{}
	for _, s := range subjects {
		var owners []*profile
		unknown := false
		for _, id := range b.ids(s) {
			if p := b.owner[id]; p == nil {
				unknown = true
			} else if !slices.Contains(owners, p) {
				owners = append(owners, p)
			}
		}
		if len(owners) > 1 || (unknown && len(owners) > 0) {
			for _, p := range owners {
				need[p.id] = struct{}{}
			}
		}
	}
	return b.summarise(ctx, slices.Collect(maps.Keys(need)))
}

func (b *Batch) summarise(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	counts, userIDs, err := b.summaries(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		p := b.profiles[id]
		p.summarised, p.counts, p.loaded = true, counts[id], maps.Clone(counts[id])
		if p.counts == nil {
			p.counts = map[string]int{}
		}
		if userIDs[id] != "" {
			p.userID = userIDs[id]
		}
	}
	return nil
}

// summaries runs identity-summaries for ids: identifier counts per type, and the user_id, of
// each customer that has identities.
func (b *Batch) summaries(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]map[string]int, map[uuid.UUID]string, error) {
	rows, err := b.r.st.On(ctx, b.tx, "identity-summaries").QueryContext(ctx, pgarray.UUIDs(ids))
	if err != nil {
		return nil, nil, fmt.Errorf("error summarising identities: %w", err)
	}
	defer rows.Close()
	counts, userIDs := map[uuid.UUID]map[string]int{}, map[uuid.UUID]string{}
	for rows.Next() {
		var id uuid.UUID
		var typ, userID string
		var n int
		if err := rows.Scan(&id, &typ, &n, &userID); err != nil {
			return nil, nil, fmt.Errorf("error reading identity summaries: %w", err)
		}
		if counts[id] == nil {
			counts[id] = map[string]int{}
		}
		counts[id][typ] = n
		if userID != "" {
			userIDs[id] = userID
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("error reading identity summaries: %w", err)
	}
	return counts, userIDs, nil
}

func (b *Batch) ensureSummary(ctx context.Context, p *profile) error {
	if p.summarised {
		return nil
	}
	return b.summarise(ctx, []uuid.UUID{p.id})
}

// plan resolves one subject against the batch's state so far.
func (b *Batch) plan(ctx context.Context, s Subject) (*profile, error) {
	var owners []*profile
	var unknown []Identifier
	userID := ""
	for _, id := range b.ids(s) {
		if id.Type == TypeUserID {
			userID = id.Value
		}
		if p := b.owner[id]; p != nil {
			if root := p.root(); !slices.Contains(owners, root) {
				owners = append(owners, root)
			}
			if seen, ok := b.seen[id]; ok && s.At.Sub(seen) > b.r.cfg.SeenGranularity && s.At.After(b.touch[id]) {
				b.touch[id] = s.At
			}
		} else {
			unknown = append(unknown, id)
		}
	}

	var chosen []*profile
	if len(owners) == 1 && len(unknown) == 0 {
		chosen = owners // the common case: every identifier known, one profile
	} else {
		acc := map[string]int{}
		if userID != "" && b.owner[Identifier{TypeUserID, userID}] == nil {
			acc[TypeUserID] = 1 // the message's new user_id: profiles with another one conflict
		}
		for _, p := range owners {
			if err := b.ensureSummary(ctx, p); err != nil {
				return nil, err
			}
			if reason := b.clash(acc, p.counts); reason != "" {
				b.conflict = append(b.conflict, Conflict{Ref: s.Ref, Other: p.id, Reason: reason})
				continue
			}
			for t, n := range p.counts {
				acc[t] += n
			}
			chosen = append(chosen, p)
		}
	}

	var survivor *profile
	if len(chosen) == 0 {
		survivor = b.profileFor(schema.NewID())
		survivor.isNew, survivor.createdAt, survivor.summarised = true, b.now, true
		survivor.counts = map[string]int{}
		survivor.firstSeen, survivor.lastSeen = s.At, s.At
	} else {
		survivor = chosen[0]
		for _, p := range chosen[1:] {
			if older(p, survivor) {
				survivor = p
			}
		}
		for _, p := range chosen {
			if p != survivor {
				b.union(p, survivor)
			}
		}
	}
	for i := range b.conflict {
		if b.conflict[i].Ref == s.Ref && b.conflict[i].Customer == uuid.Nil {
			b.conflict[i].Customer = survivor.id
		}
	}
	for _, id := range unknown {
		if survivor.counts[id.Type] >= b.r.cfg.Limit(id.Type) {
			b.limited++
			continue
		}
		survivor.counts[id.Type]++
		if id.Type == TypeUserID {
			survivor.userID = id.Value
		}
		b.owner[id] = survivor
		b.claims = append(b.claims, claim{id: id, p: survivor, at: s.At})
	}
	return survivor, nil
}

// clash says why a profile with counts cannot join a group holding acc ("" if it can).
func (b *Batch) clash(acc, counts map[string]int) string {
	for t, n := range counts {
		if acc[t]+n > b.r.cfg.Limit(t) {
			if t == TypeUserID {
				return TypeUserID
			}
			return "limit:" + t
		}
	}
	return ""
}

// union merges p into survivor in the plan.
func (b *Batch) union(p, survivor *profile) {
	p.parent = survivor
	for t, n := range p.counts {
		survivor.counts[t] += n
	}
	if survivor.userID == "" {
		survivor.userID = p.userID
	}
	if !p.firstSeen.IsZero() && (survivor.firstSeen.IsZero() || p.firstSeen.Before(survivor.firstSeen)) {
		survivor.firstSeen = p.firstSeen
	}
	if p.lastSeen.After(survivor.lastSeen) {
		survivor.lastSeen = p.lastSeen
	}
	survivor.obs = append(survivor.obs, p.obs...)
	p.obs = nil
}
