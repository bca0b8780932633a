package ingest

import (
	"hash/fnv"
	"sync"

	"github.com/cairn-cdp/cairn/internal/identity"
)

// claimTable records the new identifiers (as 64-bit hashes) that this pipeline's writers are
// claiming in their open transactions; see lockClaims.
type claimTable struct {
	mu    sync.Mutex
	owner map[uint64]chan struct{} // closed when the claiming group's transaction ends
}

// lockClaims waits, when the pipeline has several writers, until no other writer's open group
// may claim any of the identifiers this group may claim as new (those the resolver does not
// know yet), records them as this group's, and returns their release. Two writers claiming the
// same new identifier at once would make one wait on the other's unique index entry while
// holding customer row locks the other may need next: deadlocks and lost claims, retried so
// often that throughput falls by almost ten times (PLANS.md).
//
// A group takes all its identifiers at once or none (it waits for one conflicting group to
// finish and tries again), so groups cannot deadlock here. The table holds exact identifiers
// (up to 64-bit hash collisions, which only cost a wait), not stripes: two groups of a few
// hundred new people would nearly always share a stripe and take turns. Identifiers in the
// resolver's cache (most, once people have been seen) take no claim. The cache may be emptied
// between this check and Resolve: a claim then runs unrecorded and, if it races, is retried as
// without the table (the database keeps it correct).
// Before a group gets here, deferClaimed sets aside the requests that would wait, when others
// can go meanwhile.
func (p *Pipeline) lockClaims(group []*request) (unlock func()) {
	if p.opts.Writers < 2 {
		return func() {}
	}
	done := make(chan struct{})
	t := &p.claims
	var keys []uint64
	for attempt := 0; ; attempt++ {
		// Again after each wait: what the group waited for is usually known by then. The first
		// pass takes the keys deferClaimed just computed, when it did.
		keys = keys[:0]
		for _, r := range group {
			if attempt > 0 || r.claims == nil {
				keys = p.claimKeys(group)
				break
			}
			keys = append(keys, r.claims...)
		}
		for _, r := range group {
			r.claims = nil // a retry of the request computes them afresh
		}
		if len(keys) == 0 {
			return func() {}
		}
		t.mu.Lock()
		busy := t.busy(keys)
		if busy == nil {
			if t.owner == nil {
				t.owner = map[uint64]chan struct{}{}
			}
			for _, k := range keys {
				t.owner[k] = done
			}
			t.mu.Unlock()
			break
		}
		t.mu.Unlock()
		<-busy
	}
	return func() {
		t.mu.Lock()
		for _, k := range keys {
			if t.owner[k] == done {
				delete(t.owner, k)
			}
		}
		t.mu.Unlock()
		close(done)
	}
}

// busy returns the end of another group's claim on one of keys, or nil; t.mu is held.
func (t *claimTable) busy(keys []uint64) chan struct{} {
	for _, k := range keys {
		if c, ok := t.owner[k]; ok {
			return c
		}
	}
	return nil
}

// claimKeys hashes the identifiers group's messages may claim as new: those the resolver does
// not know yet.
func (p *Pipeline) claimKeys(group []*request) []uint64 {
	var subjects []identity.Subject
	for _, r := range group {
		for _, m := range r.msgs {
			subjects = append(subjects, identity.Subject{IDs: m.ids, Previous: m.previous})
		}
	}
	unknown := p.res.Unknown(subjects)
	keys := make([]uint64, 0, len(unknown))
	for _, k := range unknown {
		h := fnv.New64a()
		_, _ = h.Write([]byte(k.Type))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(k.Value))
		keys = append(keys, h.Sum64())
	}
	return keys
}
