package auth

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// KeyCacheTTL bounds how long a key authenticated once is trusted without reading api_keys
// again. Revoking a key in this process refuses it at once; a key revoked by another process
// (another `cairn serve`, `cairn keys revoke`) is refused here at the latest KeyCacheTTL after
// the revocation commits.
const KeyCacheTTL = 5 * time.Second

// keyCacheMax bounds the cache; when full it is emptied (a deployment has few keys, so this
// only triggers under a flood of distinct valid secrets).
const keyCacheMax = 10_000

// keyCache remembers successful authentications by the SHA-256 of the presented secret, so a
// request with a recently seen key costs no database read. Failures are never cached: a new
// key works at once, and a bad secret always reaches the constant-time comparison.
type keyCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]keyCacheEntry
	// gen counts revocations seen by this process: an authentication that read its key before a
	// revocation (gen changed since) is not cached, so a same-process revocation is never undone.
	gen uint64
}

type keyCacheEntry struct {
	p       *Principal
	expires time.Time
}

func (c *keyCache) get(hash [sha256.Size]byte, now time.Time) *Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		delete(c.entries, hash)
		return nil
	}
	return e.p
}

// generation returns the revocation count to pass to put.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches p unless a key was revoked since gen was read (the lookup behind p may predate it).
func (c *keyCache) put(hash [sha256.Size]byte, p *Principal, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.entries == nil || len(c.entries) >= keyCacheMax {
		c.entries = make(map[[sha256.Size]byte]keyCacheEntry)
	}
	c.entries[hash] = keyCacheEntry{p: p, expires: now.Add(KeyCacheTTL)}
}

// forget drops every entry of the key id (it was revoked).
func (c *keyCache) forget(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if e.p.KeyID == id {
			delete(c.entries, h)
		}
	}
}

// clone copies p, so a caller changing its principal cannot change the cached one.
func (p *Principal) clone() *Principal {
	cp := *p
	cp.Scopes = slices.Clone(p.Scopes)
	return &cp
}
