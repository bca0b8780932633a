package auth

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

// clock is a settable time for Keys.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRevocationIsBoundedByKeyCacheTTL(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)

	tests := []struct {
		name string
		// revokeHere revokes through the Keys that authenticated (this process) rather than
		// through another one (another process).
		revokeHere bool
		refusedNow bool
	}{
		{name: "revoked by this process: refused at once", revokeHere: true, refusedNow: true},
		{name: "revoked by another process: refused within KeyCacheTTL", refusedNow: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: time.Now()}
			server := NewKeys(db, log)
			server.now = clk.now
			other := NewKeys(db, log)
			created, err := other.Create(ctx, "cached", []Scope{ScopeRead})
			require.NoError(t, err)

			p, err := server.Authenticate(ctx, created.Secret)
			require.NoError(t, err)
			require.Equal(t, created.Key.ID, p.KeyID)

			revoker := other
			if tc.revokeHere {
				revoker = server
			}
			_, err = revoker.Revoke(ctx, created.Key.ID)
			require.NoError(t, err)

			_, err = server.Authenticate(ctx, created.Secret)
			if tc.refusedNow {
				require.ErrorIs(t, err, ErrUnauthenticated)
			} else {
				require.NoError(t, err, "a cached key is trusted until KeyCacheTTL has passed")
			}

			clk.add(KeyCacheTTL)
			_, err = server.Authenticate(ctx, created.Secret)
			require.ErrorIs(t, err, ErrUnauthenticated)
		})
	}
}

func TestKeyCacheRefusesWrongSecrets(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	keys := NewKeys(db, slog.New(slog.DiscardHandler))
	created, err := keys.Create(ctx, "cached", []Scope{ScopeRead})
	require.NoError(t, err)
	_, err = keys.Authenticate(ctx, created.Secret)
	require.NoError(t, err)

	// Same prefix, wrong secret: not served from the cache of the right one.
	_, err = keys.Authenticate(ctx, created.Secret[:len(created.Secret)-4]+"aaaa")
	require.ErrorIs(t, err, ErrUnauthenticated)
	// A principal from the cache is a copy: changing it changes nothing for the next request.
	p, err := keys.Authenticate(ctx, created.Secret)
	require.NoError(t, err)
	p.Scopes = append(p.Scopes[:0], ScopeAdmin)
	p2, err := keys.Authenticate(ctx, created.Secret)
	require.NoError(t, err)
	require.Equal(t, []Scope{ScopeRead}, p2.Scopes)
}

// TestKeyCacheKeepsRevocationsOfThisProcess: an authentication whose lookup predates a
// revocation in this process (read before Revoke committed, cached after its forget) must not
// put the key back in the cache.
func TestKeyCacheKeepsRevocationsOfThisProcess(t *testing.T) {
	t.Parallel()
	var c keyCache
	id := uuid.Must(uuid.NewV7())
	hash := sha256.Sum256([]byte("secret"))
	now := time.Now()
	gen := c.generation() // the lookup starts
	c.forget(id)          // a revocation commits meanwhile
	c.put(hash, &Principal{KeyID: id}, now, gen)
	require.Nil(t, c.get(hash, now), "a principal read before the revocation is not cached")

	c.put(hash, &Principal{KeyID: id}, now, c.generation())
	require.NotNil(t, c.get(hash, now), "a lookup after the revocation caches as usual")
}
