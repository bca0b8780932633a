package identity

import (
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// cache remembers, per identifier, the customer it resolved to in a committed transaction, so
// that the common message (every identifier known) needs no identity lookup. It is only a hint:
// Resolve still locks every customer it routes a message to, and a customer found merged or
// erased (by this process or another) fails the transaction with ErrConcurrentChange and
// empties the cache, so the retry looks everything up afresh. Identities only ever change
// customer through a merge (which marks the old customer merged) or disappear with their
// customer (erasure), which is what makes that check sufficient.
//
// It also remembers, per live customer, what planning reads of it (read-customers): created_at,
// which never changes, and first/last seen times as this process last knew them committed.
// Those are kept no later (first) and no earlier (last) than the database's, so a stale entry
// only makes a group write a seen time it could have skipped; a customer merged or erased
// meanwhile is caught as for identifiers (Finish's merged check, the foreign key of the events
// stored, load-traits' row count), and the retry reads it afresh.
type cache struct {
	mu   sync.Mutex
	m    map[Identifier]cacheEntry
	cust map[uuid.UUID]customerEntry
	// moved maps a merged-away customer to its survivor: entries of m naming it are read as
	// naming the survivor, so a merge never scans m (up to 500k entries, under the lock).
	moved map[uuid.UUID]uuid.UUID
	max   int
}

type customerEntry struct {
	created, first, last time.Time
}

type cacheEntry struct {
	customer uuid.UUID
	seen     time.Time // the identity's last_seen_at as last written
}

func newCache(max int) *cache {
	return &cache{m: map[Identifier]cacheEntry{}, cust: map[uuid.UUID]customerEntry{}, moved: map[uuid.UUID]uuid.UUID{}, max: max}
}

func (c *cache) get(keys []Identifier, found func(Identifier, cacheEntry)) (misses []Identifier) {
	if c == nil || c.max <= 0 {
		return keys
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if e, ok := c.m[k]; ok {
			e.customer = c.survivor(e.customer)
			found(k, e)
		} else {
			misses = append(misses, k)
		}
	}
	return misses
}

// customers fills in the cached customers among ids and returns the others.
func (c *cache) customers(ids []uuid.UUID, found func(uuid.UUID, customerEntry)) (misses []uuid.UUID) {
	if c == nil || c.max <= 0 {
		return ids
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if e, ok := c.cust[id]; ok {
			found(id, e)
		} else {
			misses = append(misses, id)
		}
	}
	return misses
}

// put records committed resolutions and customers; merged maps merged-away customers to their
// survivors, so entries of their other identifiers follow.
func (c *cache) put(entries map[Identifier]cacheEntry, custs map[uuid.UUID]customerEntry, merged map[uuid.UUID]uuid.UUID) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for from := range merged {
		delete(c.cust, from)
	}
	if len(c.cust)+len(custs) > c.max {
		clear(c.cust)
	}
	for id, e := range custs {
		c.cust[id] = e
	}
	if len(c.m)+len(entries) > c.max || len(c.moved)+len(merged) > c.max {
		clear(c.m) // simple and rare: the hot set refills within a few groups
		clear(c.moved)
	}
	for from, into := range merged {
		c.moved[from] = into
	}
	for k, e := range entries {
		if old, ok := c.m[k]; ok && old == e {
			continue // unchanged (the common case: a known person, seen times within granularity)
		}
		// A copy of the key, defensively: an identifier sharing the memory of the message it came
		// from (a substring, or a zero-copy decoder's string) would keep the whole message alive
		// as long as the entry lives. Also when the key is stored already: assigning to an
		// existing key replaces the stored key (strings may differ in memory) with this one.
		// Types are constants.
		k.Value = strings.Clone(k.Value)
		c.m[k] = e
	}
}

// survivor follows id's merges (one hop, unless a survivor was itself merged later).
func (c *cache) survivor(id uuid.UUID) uuid.UUID {
	for range len(c.moved) {
		into, ok := c.moved[id]
		if !ok {
			break
		}
		id = into
	}
	return id
}

func (c *cache) reset() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.m)
	clear(c.cust)
	clear(c.moved)
	c.mu.Unlock()
}
