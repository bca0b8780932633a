package ingest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/profile"
)

func TestMergeChain(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Three separate anonymous profiles A, B, C, oldest first.
	for i, anon := range []string{"A", "B", "C"} {
		b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Visit", AnonymousID: anon, Timestamp: at.Add(time.Duration(i) * time.Hour)})
	}
	a, bb, c := b.customerOf(t, "anonymous_id", "A"), b.customerOf(t, "anonymous_id", "B"), b.customerOf(t, "anonymous_id", "C")
	require.Len(t, map[uuid.UUID]bool{a: true, bb: true, c: true}, 3)

	// A↔B through a shared email, then B↔C through a device id.
	b.submit(t, wire.Message{Type: wire.TypeIdentify, AnonymousID: "B", Traits: obj(map[string]any{"email": "x@example.org"}), Timestamp: at.Add(4 * time.Hour)})
	b.submit(t, wire.Message{Type: wire.TypeIdentify, AnonymousID: "A", Traits: obj(map[string]any{"email": "X@example.org"}), Timestamp: at.Add(5 * time.Hour)})
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Tap", AnonymousID: "C", Context: obj(map[string]any{"device": map[string]any{"id": "dev-1"}}), Timestamp: at.Add(6 * time.Hour)})
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Tap", AnonymousID: "B", Context: obj(map[string]any{"device": map[string]any{"id": "dev-1"}}), Timestamp: at.Add(7 * time.Hour)})

	// One survivor: the oldest (A); every identity, interaction on it; old ids resolve to it.
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`))
	for _, id := range []string{"A", "B", "C"} {
		require.Equal(t, a, b.customerOf(t, "anonymous_id", id))
	}
	require.Equal(t, 7, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1`, a))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id <> $1`, a))
	for _, old := range []uuid.UUID{bb, c} {
		got, err := profile.Get(ctx, b.client, old)
		require.NoError(t, err)
		require.Equal(t, a, got.ID)
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE id = $1 AND merged_into_id = $2`, old, a), "one hop to the survivor")
	}
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'customer.merge' AND target_id = $1`, a.String()))
	var first time.Time
	require.NoError(t, b.db.QueryRow(`SELECT first_seen_at FROM customers WHERE id = $1`, a).Scan(&first))
	require.True(t, first.Equal(at), first)
	require.Equal(t, "X@example.org", b.traits(t, a)["email"], "traits keep the value as sent")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE id = $1 AND email = 'x@example.org'`, a))
}

func TestMergeWithinOneBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Old", AnonymousID: "old-anon"})
	// One request: a new anon browses, then identifies, then the old profile's anon shares the user.
	res := b.submit(t,
		wire.Message{Type: wire.TypePage, Name: "Home", AnonymousID: "new-anon"},
		wire.Message{Type: wire.TypeIdentify, AnonymousID: "new-anon", UserID: "u-1"},
		wire.Message{Type: wire.TypeTrack, Event: "Linked", AnonymousID: "old-anon", UserID: "u-1"},
	)
	require.Equal(t, Result{Stored: 3}, res)
	old := b.customerOf(t, "anonymous_id", "old-anon")
	require.Equal(t, old, b.customerOf(t, "user_id", "u-1"))
	require.Equal(t, old, b.customerOf(t, "anonymous_id", "new-anon"))
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1`, old))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers`), "the profile made and merged within the batch is never written")
}

func TestConflictingUserIDsDoNotMerge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "alice", AnonymousID: "shared-laptop"})
	b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "bob", AnonymousID: "bobs-phone", Traits: obj(map[string]any{"email": "bob@example.org"})})
	alice, bob := b.customerOf(t, "user_id", "alice"), b.customerOf(t, "user_id", "bob")

	// Bob logs in on Alice's laptop: the anonymousId belongs to Alice, the userId to Bob.
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Login", UserID: "bob", AnonymousID: "shared-laptop", MessageID: "conflict-1"})
	// An anonymous message linking both profiles' identifiers.
	b.submit(t, wire.Message{Type: wire.TypeIdentify, AnonymousID: "shared-laptop", Traits: obj(map[string]any{"email": "bob@example.org"}), MessageID: "conflict-2"})

	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`))
	require.Equal(t, alice, b.customerOf(t, "anonymous_id", "shared-laptop"))
	require.Equal(t, bob, b.customerOf(t, "email", "bob@example.org"))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM identities WHERE customer_id = $1 AND type = 'user_id'`, alice))
	// The message with bob's userId is stored on bob's profile.
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'conflict-1' AND customer_id = $1`, bob))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'identity.conflict' AND target_id = $1 AND details->>'other' = $2 AND details->>'reason' = 'user_id'`, bob.String(), alice.String()))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'identity.conflict'`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'customer.merge'`))
}

func TestLateEventDoesNotOverwriteNewerTraits(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	now := time.Now().UTC().Truncate(time.Second)
	b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "u", Timestamp: now, Traits: obj(map[string]any{"plan": "pro", "email": "New@Example.org"})})
	// Arrives later, happened earlier.
	b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "u", Timestamp: now.Add(-time.Hour), Traits: obj(map[string]any{"plan": "free", "email": "old@example.org", "city": "Oslo"})})
	cust := b.customerOf(t, "user_id", "u")
	traits := b.traits(t, cust)
	require.Equal(t, "pro", traits["plan"])
	require.Equal(t, "New@Example.org", traits["email"])
	require.Equal(t, "Oslo", traits["city"], "a key the newer event did not set is still taken")
	var email string
	var first, last time.Time
	require.NoError(t, b.db.QueryRow(`SELECT email, first_seen_at, last_seen_at FROM customers WHERE id = $1`, cust).Scan(&email, &first, &last))
	require.Equal(t, "new@example.org", email)
	require.True(t, first.Equal(now.Add(-time.Hour)), first)
	require.True(t, last.Equal(now), last)
	// A newer event does overwrite.
	b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "u", Timestamp: now.Add(time.Minute), Traits: obj(map[string]any{"plan": "enterprise"})})
	require.Equal(t, "enterprise", b.traits(t, cust)["plan"])
}

func TestIdentifierLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for i := range 7 {
		b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "u", AnonymousID: fmt.Sprint("device-", i)})
	}
	cust := b.customerOf(t, "user_id", "u")
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM identities WHERE customer_id = $1 AND type = 'anonymous_id'`, cust))
	require.Equal(t, 7, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1`, cust), "events still land on the user's profile")
}

func TestAliasMerges(t *testing.T) {
	t.Parallel()
	t.Run("previousId is an anonymousId", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Browse", AnonymousID: "anon-x"})
		b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "new-user"})
		b.submit(t, wire.Message{Type: wire.TypeAlias, UserID: "new-user", PreviousID: "anon-x"})
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`))
		require.Equal(t, b.customerOf(t, "anonymous_id", "anon-x"), b.customerOf(t, "user_id", "new-user"))
	})
	t.Run("previousId never seen becomes an anonymousId", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.submit(t, wire.Message{Type: wire.TypeAlias, UserID: "u", PreviousID: "fresh"})
		require.Equal(t, b.customerOf(t, "user_id", "u"), b.customerOf(t, "anonymous_id", "fresh"))
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM identities WHERE type = 'user_id' AND value = 'fresh'`))
	})
	t.Run("previousId is a former userId", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "old-login", Traits: obj(map[string]any{"plan": "pro"})})
		b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Browse", AnonymousID: "phone-app"})
		old := b.customerOf(t, "user_id", "old-login")
		b.submit(t, wire.Message{Type: wire.TypeAlias, AnonymousID: "phone-app", PreviousID: "old-login"})
		require.Equal(t, old, b.customerOf(t, "anonymous_id", "phone-app"), "the app's profile merged into the user's")
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`))
		require.Equal(t, 2, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1 AND kind <> 'alias'`, old))
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM identities WHERE type = 'anonymous_id' AND value = 'old-login'`))
	})
	t.Run("former userId in the same batch", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Browse", AnonymousID: "tablet"})
		b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "login-1"}, wire.Message{Type: wire.TypeAlias, AnonymousID: "tablet", PreviousID: "login-1"})
		require.Equal(t, b.customerOf(t, "user_id", "login-1"), b.customerOf(t, "anonymous_id", "tablet"))
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM identities WHERE type = 'anonymous_id' AND value = 'login-1'`))
	})
	t.Run("former userId of another user is a conflict, not a merge", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "alice"})
		b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "bob"})
		b.submit(t, wire.Message{Type: wire.TypeAlias, UserID: "bob", PreviousID: "alice", MessageID: "link"})
		alice, bob := b.customerOf(t, "user_id", "alice"), b.customerOf(t, "user_id", "bob")
		require.NotEqual(t, alice, bob)
		require.Equal(t, 2, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'link' AND customer_id = $1`, bob))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'identity.conflict'`))
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM identities WHERE type = 'anonymous_id' AND value = 'alice'`))
	})
}

func TestGroupTraitsAndExternalIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.submit(t, wire.Message{Type: wire.TypeGroup, UserID: "u", GroupID: "acme", Traits: obj(map[string]any{"name": "Acme Inc"}),
		Context: obj(map[string]any{"externalIds": []any{map[string]any{"id": "cus_123", "type": "stripe_customer_id", "collection": "users"}}})})
	cust := b.customerOf(t, "user_id", "u")
	require.Equal(t, cust, b.customerOf(t, "external:stripe_customer_id", "cus_123"))
	traits := b.traits(t, cust)
	require.Equal(t, "acme", traits["groupId"])
	require.Equal(t, map[string]any{"id": "acme", "name": "Acme Inc"}, traits["group"])
	require.NotContains(t, traits, "name", "a group's traits are not the person's")
}

// TestMergeByAnotherProcess: this process remembers which customer an identifier resolved to;
// another process then merges that customer away. The next message is stored on the survivor.
func TestMergeByAnotherProcess(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", AnonymousID: "old"})
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", AnonymousID: "young"}) // cached: young -> its profile
	old, young := b.customerOf(t, "anonymous_id", "old"), b.customerOf(t, "anonymous_id", "young")

	res, err := identity.New(ctx, b.db, identity.DefaultConfig(), nil)
	require.NoError(t, err)
	other, err := NewPipeline(ctx, b.db, res, nil)
	require.NoError(t, err)
	_, err = other.Submit(ctx, []wire.Message{{Type: wire.TypeIdentify, AnonymousID: "young", Traits: obj(map[string]any{"email": "e@example.org"})},
		{Type: wire.TypeIdentify, AnonymousID: "old", Traits: obj(map[string]any{"email": "e@example.org"})}}, "test")
	require.NoError(t, err)
	require.NoError(t, other.Close())

	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "After", AnonymousID: "young", MessageID: "after-merge"})
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'after-merge' AND customer_id = $1`, old))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1`, young))
}

// TestConcurrentUserIDsOnOneProfile: many users log in at once on one browser (one anonymousId)
// through concurrent writers; the anonymous profile still ends with a single user_id.
func TestConcurrentUserIDsOnOneProfile(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 4}})
	b.submit(t, wire.Message{Type: wire.TypePage, Name: "Home", AnonymousID: "kiosk"})
	kiosk := b.customerOf(t, "anonymous_id", "kiosk")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.pipe.Submit(context.Background(), []wire.Message{{Type: wire.TypeIdentify, AnonymousID: "kiosk", UserID: fmt.Sprint("login-", i)}}, "test")
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM identities WHERE customer_id = $1 AND type = 'user_id'`, kiosk))
	require.Equal(t, 20, b.count(t, `SELECT count(*) FROM identities WHERE type = 'user_id'`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM (SELECT customer_id FROM identities WHERE type = 'user_id' GROUP BY customer_id HAVING count(*) > 1) x`))
	require.Equal(t, 19, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'identity.conflict'`))
}

// TestCustomerErasedMeanwhile: a profile this process remembers is deleted (erasure) by another
// process; the next message about it makes a new profile instead of failing.
func TestCustomerErasedMeanwhile(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", AnonymousID: "gone", MessageID: "before"})
	old := b.customerOf(t, "anonymous_id", "gone")
	for _, q := range []string{`DELETE FROM interactions WHERE customer_id = $1`, `DELETE FROM identities WHERE customer_id = $1`,
		`DELETE FROM segment_dirty_customers WHERE customer_id = $1`, `DELETE FROM customers WHERE id = $1`} {
		_, err := b.db.Exec(q, old)
		require.NoError(t, err)
	}
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", AnonymousID: "gone", MessageID: "after"})
	require.NotEqual(t, old, b.customerOf(t, "anonymous_id", "gone"))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'after'`))
}
