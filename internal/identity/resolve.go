package identity

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent/schema"
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
	size := cfg.CacheSize
	if size == 0 {
		size = 500_000
	}
	return &Resolver{db: db, cfg: cfg, norm: NewNormalizer(cfg), st: st, log: log, now: time.Now, ids: newCache(size)}, nil
}

// Close releases the prepared statements.
func (r *Resolver) Close() { r.st.Close() }

// Normalizer returns the resolver's identifier normaliser.
func (r *Resolver) Normalizer() *Normalizer { return r.norm }

// Normalize is Normalizer().Normalize, usable as a profile.Normalizer.
func (r *Resolver) Normalize(typ, value string) (string, error) { return r.norm.Normalize(typ, value) }

// Subject is what one message says about who did it.
type Subject struct {
	// IDs are the message's normalised identifiers (see Normalizer); duplicates are ignored.
	IDs []Identifier
	// At is the event time: identities' and profiles' seen times advance to it.
	At time.Time
	// Ref names the message in audit details (its messageId).
	Ref string
	// Previous is an alias call's normalised previousId: the user_id of that value if one
	// exists (here or earlier in the batch), else the anonymous_id of that value (existing or
	// new), joins the message's identifiers.
	Previous string
}

// ids returns s's identifiers, with its previousId resolved against the batch so far.
func (b *Batch) ids(s Subject) []Identifier {
	if s.Previous == "" {
		return s.IDs
	}
	prev := Identifier{TypeUserID, s.Previous}
	if b.owner[prev] == nil {
		prev = Identifier{TypeAnonymousID, s.Previous}
	}
	return dedupe(append(slices.Clone(s.IDs), prev))
}

// Conflict is a link a message asked for and a guard refused.
type Conflict struct {
	Ref      string    // the message
	Customer uuid.UUID // the profile the message was resolved to
	Other    uuid.UUID // the profile it was not merged with
	Reason   string    // "user_id" or "limit:<type>"
}

// Merge is one profile merged into another.
type Merge struct {
	From, Into uuid.UUID
}

// profile is the planning state of one customer in a batch.
type profile struct {
	id        uuid.UUID
	createdAt time.Time
	isNew     bool
	parent    *profile // union-find: the profile this one merges into; nil for a root

	summarised bool
	counts     map[string]int // identifiers held, per type
	userID     string
	loaded     map[string]int // counts as read, to check them again under lock

	email, phone         string // column values as loaded
	firstSeen, lastSeen  time.Time
	loadedFirst, loadedL time.Time

	obs []observation // trait observations, in message order

	// Filled by Flush for roots whose traits change.
	traits map[string]any
	times  map[string]time.Time
}

type observation struct {
	at     time.Time
	traits map[string]any
}

func (p *profile) root() *profile {
	r := p
	for r.parent != nil {
		r = r.parent
	}
	for p.parent != nil && p.parent != r { // path compression
		next := p.parent
		p.parent = r
		p = next
	}
	return r
}

func older(a, b *profile) bool {
	if !a.createdAt.Equal(b.createdAt) {
		return a.createdAt.Before(b.createdAt)
	}
	return a.id.String() < b.id.String()
}

// Batch is the resolution of a group of messages inside one transaction: Resolve plans it
// (reading only), Observe records what each stored message says about its customer, and Flush
// locks, re-checks and writes everything.
type Batch struct {
	r        *Resolver
	tx       *sql.Tx
	now      time.Time
	profiles map[uuid.UUID]*profile
	order    []*profile // every profile, in the order first met
	owner    map[Identifier]*profile
	seen     map[Identifier]time.Time // loaded last_seen_at of known identities
	touch    map[Identifier]time.Time // known identities to advance
	claims   []claim
	cust     []*profile // per subject
	conflict []Conflict
	limited  int
	reason   string
	pending  *flushArgs        // what Flush leaves for Finish
	wrote    map[*profile]bool // existing profiles whose seen times Flush writes
}

type claim struct {
	id Identifier
	p  *profile
	at time.Time
}

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
	rows, err := b.r.st.On(ctx, b.tx, "lock-customers").QueryContext(ctx, uuidArray(ids), modes)
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

// newBatch starts a batch about some n identifiers (the maps are sized for them: growing them
// was a visible part of Resolve).
func (r *Resolver) newBatch(tx *sql.Tx, n int) *Batch {
	return &Batch{
		r: r, tx: tx, now: r.now(),
		profiles: make(map[uuid.UUID]*profile, n), owner: make(map[Identifier]*profile, n),
		seen: make(map[Identifier]time.Time, n), touch: map[Identifier]time.Time{},
	}
}

func dedupe(ids []Identifier) []Identifier {
	out := ids[:0:0]
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	SortByPriority(out)
	return out
}

func (b *Batch) profileFor(id uuid.UUID) *profile {
	p, ok := b.profiles[id]
	if !ok {
		p = &profile{id: id}
		b.profiles[id] = p
		b.order = append(b.order, p)
	}
	return p
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
	rows, err := b.r.st.On(ctx, b.tx, "read-customers").QueryContext(ctx, uuidArray(ids))
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

// summaries runs identity-summaries for ids: identifier counts per type, and the user_id, of
// each customer that has identities.
func (b *Batch) summaries(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]map[string]int, map[uuid.UUID]string, error) {
	rows, err := b.r.st.On(ctx, b.tx, "identity-summaries").QueryContext(ctx, uuidArray(ids))
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

// Committed tells the resolver that the batch's transaction committed, so its resolutions may
// be remembered for later batches.
func (b *Batch) Committed() {
	entries := make(map[Identifier]cacheEntry, len(b.owner))
	for k, p := range b.owner {
		seen := b.seen[k]
		if t, ok := b.touch[k]; ok && t.After(seen) {
			seen = t
		}
		entries[k] = cacheEntry{customer: p.root().id, seen: seen}
	}
	for _, c := range b.claims {
		if e, ok := entries[c.id]; ok && e.seen.Before(c.at) {
			e.seen = c.at
			entries[c.id] = e
		}
	}
	var merged map[uuid.UUID]uuid.UUID
	for _, m := range b.Merges() {
		if merged == nil {
			merged = map[uuid.UUID]uuid.UUID{}
		}
		merged[m.From] = m.Into
	}
	custs := make(map[uuid.UUID]customerEntry, len(b.order))
	for _, p := range b.order {
		if p.parent != nil {
			continue // merged away
		}
		e := customerEntry{created: p.createdAt, first: p.loadedFirst, last: p.loadedL}
		switch {
		case p.isNew:
			e.first, e.last = p.firstSeen, p.lastSeen
		case b.wrote[p]: // least/greatest of what was there and what Flush wrote
			if p.firstSeen.Before(e.first) {
				e.first = p.firstSeen
			}
			if p.lastSeen.After(e.last) {
				e.last = p.lastSeen
			}
		}
		custs[p.id] = e
	}
	b.r.ids.put(entries, custs, merged)
}

// Customer returns the customer subject i resolved to (its survivor if it was merged later in
// the batch).
func (b *Batch) Customer(i int) uuid.UUID { return b.cust[i].root().id }

// Root returns the survivor in this batch of a customer id met in it (the id itself if it was
// not merged, or not met).
func (b *Batch) Root(id uuid.UUID) uuid.UUID {
	if p, ok := b.profiles[id]; ok {
		return p.root().id
	}
	return id
}

// Existing returns the ids of the customers that existed before the batch.
func (b *Batch) Existing() []uuid.UUID {
	var out []uuid.UUID
	for _, p := range b.order {
		if !p.isNew {
			out = append(out, p.id)
		}
	}
	return out
}

// Conflicts returns the links guards refused.
func (b *Batch) Conflicts() []Conflict { return b.conflict }

// Limited returns how many new identifiers were not linked because their profile was full.
func (b *Batch) Limited() int { return b.limited }

// Merges returns the profile merges the batch makes (existing profiles only; a profile created
// and merged within the batch is never written).
func (b *Batch) Merges() []Merge {
	var out []Merge
	for _, p := range b.order {
		if p.parent != nil && !p.isNew {
			out = append(out, Merge{From: p.id, Into: p.root().id})
		}
	}
	return out
}

// Observe records that a stored event at time at belongs to customer (an id from Customer):
// seen times advance, and traits are merged in per key, last write (by event time) winning.
func (b *Batch) Observe(customer uuid.UUID, at time.Time, traits map[string]any) {
	p, ok := b.profiles[customer]
	if !ok {
		return
	}
	p = p.root()
	if p.firstSeen.IsZero() || at.Before(p.firstSeen) {
		p.firstSeen = at
	}
	if at.After(p.lastSeen) {
		p.lastSeen = at
	}
	if len(traits) > 0 {
		p.obs = append(p.obs, observation{at: at, traits: traits})
	}
}

// Touched returns the live customers whose data the batch changes (new, observed or merged
// into), for re-evaluation of their segments.
func (b *Batch) Touched() []uuid.UUID {
	set := map[uuid.UUID]struct{}{}
	for _, p := range b.order {
		r := p.root()
		if r.isNew || len(r.obs) > 0 || p.parent != nil || r.lastSeen.After(r.loadedL) || r.firstSeen.Before(r.loadedFirst) {
			set[r.id] = struct{}{}
		}
	}
	return slices.SortedFunc(maps.Keys(set), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
}

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
	return b.audit(ctx, actor, merges)
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
	a.dirty = uuidArray(b.Touched())
	var used []uuid.UUID
	for _, p := range b.order {
		if r := p.root(); !r.isNew && p == r {
			used = append(used, r.id)
		}
	}
	var written, merged int64
	err := b.r.st.On(ctx, b.tx, "flush-update").QueryRowContext(ctx,
		a.updIDs, a.updTraits, a.updTimes, a.updEmails, a.updPhones, a.updFirsts, a.updLasts,
		a.touchTypes, a.touchValues, a.touchSeen, a.dirty, uuidArray(used)).Scan(&written, &merged)
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

// loadTraits reads traits of the existing profiles whose traits may change: roots with
// observations, and both sides of merges.
func (b *Batch) loadTraits(ctx context.Context) error {
	set := map[uuid.UUID]struct{}{}
	for _, p := range b.order {
		switch r := p.root(); {
		case p.isNew:
		case p.parent != nil:
			set[p.id], set[r.id] = struct{}{}, struct{}{} // r is older, so never new
		case len(p.obs) > 0:
			set[p.id] = struct{}{}
		}
	}
	ids := slices.Collect(maps.Keys(set))
	if len(ids) == 0 {
		return nil
	}
	rows, err := b.r.st.On(ctx, b.tx, "load-traits").QueryContext(ctx, uuidArray(ids))
	if err != nil {
		return fmt.Errorf("error loading traits: %w", err)
	}
	defer rows.Close()
	// lockCustomers has locked these rows and checked that none was merged or deleted.
	for rows.Next() {
		var id uuid.UUID
		var traits, times []byte
		var email, phone string
		if err := rows.Scan(&id, &traits, &times, &email, &phone); err != nil {
			return fmt.Errorf("error reading traits: %w", err)
		}
		p := b.profiles[id]
		p.email, p.phone = email, phone
		p.traits, p.times = map[string]any{}, map[string]time.Time{}
		if err := json.Unmarshal(traits, &p.traits); err != nil {
			return fmt.Errorf("error decoding traits of %s: %w", id, err)
		}
		if err := json.Unmarshal(times, &p.times); err != nil {
			b.r.log.Warn("ignoring unreadable trait_times", "customer_id", id, "error", err)
			p.times = map[string]time.Time{}
		}
	}
	return rows.Err()
}

// mergeTraits merges p's traits into root per key, the later trait time winning (root keeps
// ties). It reports whether root changed.
func mergeTraits(root, p *profile) bool {
	if root.traits == nil {
		root.traits, root.times = map[string]any{}, map[string]time.Time{}
	}
	changed := false
	for k, v := range p.traits {
		t := p.times[k]
		if _, has := root.traits[k]; has && !t.After(root.times[k]) {
			continue // the survivor's value is as new or newer
		}
		root.traits[k], root.times[k] = v, t
		changed = true
	}
	return changed
}

// applyObservations applies r's trait observations (per key last-write-wins by event time,
// ties to the later message) and derives email and phone. It reports whether traits changed.
func (b *Batch) applyObservations(r *profile) bool {
	if len(r.obs) == 0 {
		return false
	}
	if r.traits == nil {
		r.traits, r.times = map[string]any{}, map[string]time.Time{}
	}
	changed := false
	for _, o := range r.obs {
		for k, v := range o.traits {
			if cur, ok := r.times[k]; ok && o.at.Before(cur) {
				continue
			}
			r.traits[k], r.times[k] = v, o.at.UTC()
			changed = true
		}
	}
	if changed {
		if s, ok := r.traits["email"].(string); ok {
			if v, err := b.r.norm.Normalize(TypeEmail, s); err == nil {
				r.email = v
			}
		}
		if s, ok := r.traits["phone"].(string); ok {
			if v, err := b.r.norm.Normalize(TypePhone, s); err == nil {
				r.phone = v
			}
		}
	}
	return changed
}

func encodeTraits(p *profile) (string, string, error) {
	traits, err := json.Marshal(p.traits)
	if err != nil {
		return "", "", fmt.Errorf("error encoding traits: %w", err)
	}
	times, err := json.Marshal(p.times)
	if err != nil {
		return "", "", fmt.Errorf("error encoding trait times: %w", err)
	}
	return string(traits), string(times), nil
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
		if _, err := b.r.st.On(ctx, b.tx, q).ExecContext(ctx, uuidArray(from), uuidArray(into)); err != nil {
			return fmt.Errorf("error merging customers (%s): %w", q, err)
		}
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

// seenChanged reports whether the batch moves p's stored seen times by more than the
// configured granularity (so Flush rewrites its row for them).
func (b *Batch) seenChanged(p *profile) bool {
	return p.firstSeen.Before(p.loadedFirst) || p.lastSeen.Sub(p.loadedL) > b.r.cfg.SeenGranularity
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

// audit records one customer.merge per merge and one identity.conflict per refused link (per
// message and profile pair). Details hold ids and identifier types, never identifier values.
func (b *Batch) audit(ctx context.Context, actor string, merges []Merge) error {
	if actor == "" {
		actor = "system"
	}
	var ids, actors, actions, targets, details []string
	add := func(action string, target uuid.UUID, d map[string]any) error {
		raw, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("error encoding audit details: %w", err)
		}
		ids = append(ids, schema.NewID().String())
		actors, actions = append(actors, actor), append(actions, action)
		targets, details = append(targets, target.String()), append(details, string(raw))
		return nil
	}
	for _, m := range merges {
		if err := add("customer.merge", m.Into, map[string]any{"from": m.From.String(), "into": m.Into.String(), "reason": b.reason}); err != nil {
			return err
		}
	}
	type pair struct{ a, b uuid.UUID }
	done := map[pair]bool{}
	for _, c := range b.conflict {
		k := pair{c.Customer, c.Other}
		if done[k] || c.Customer == c.Other {
			continue
		}
		done[k] = true
		if err := add("identity.conflict", c.Customer, map[string]any{
			"customer": c.Customer.String(), "other": c.Other.String(), "reason": c.Reason, "messageId": c.Ref,
		}); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := b.r.st.On(ctx, b.tx, "insert-audit-events").ExecContext(ctx, pq.StringArray(ids), pq.StringArray(actors),
		pq.StringArray(actions), pq.StringArray(targets), pq.StringArray(details)); err != nil {
		return fmt.Errorf("error recording audit events: %w", err)
	}
	return nil
}

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

// Unknown returns the identifiers Resolve would look up for subjects that the resolver has no
// committed resolution for in its cache: the ones resolving them may claim as new. (A cached
// identifier is already stored, so no batch claims it again.)
func (r *Resolver) Unknown(subjects []Subject) []Identifier {
	return r.ids.get(subjectKeys(subjects), func(Identifier, cacheEntry) {})
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

// Forget empties the resolver's cache of identifier resolutions (after customers were deleted,
// say); later batches look identifiers up again.
func (r *Resolver) Forget() { r.ids.reset() }

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func uuidArray(ids []uuid.UUID) pq.StringArray {
	out := make(pq.StringArray, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
