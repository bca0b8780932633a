package identity

import (
	"github.com/google/uuid"
)

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
