package identity

import (
	"bytes"
	"database/sql"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
)

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

// newBatch starts a batch about some n identifiers; its maps are sized for them, so planning
// does not grow them.
func (r *Resolver) newBatch(tx *sql.Tx, n int) *Batch {
	return &Batch{
		r: r, tx: tx, now: r.now(),
		profiles: make(map[uuid.UUID]*profile, n), owner: make(map[Identifier]*profile, n),
		seen: make(map[Identifier]time.Time, n), touch: map[Identifier]time.Time{},
	}
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
