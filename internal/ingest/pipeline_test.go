package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/profile"
)

// TestConcurrentNewIdentityMakesOneCustomer: 50 goroutines identify/track the same new
// anonymousId and userId at once, through HTTP; exactly one customer results.
func TestConcurrentNewIdentityMakesOneCustomer(t *testing.T) {
	t.Parallel()
	for _, writers := range []int{1, 4} {
		t.Run(fmt.Sprint("writers=", writers), func(t *testing.T) {
			t.Parallel()
			b := setup(t, &setupOpts{pipeline: &Options{Writers: writers}})
			var wg sync.WaitGroup
			start := make(chan struct{})
			statuses := make([]int, 50)
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					path, body := "/v1/track", map[string]any{"anonymousId": "anon-1", "userId": "user-1", "event": "Clicked"}
					if i%2 == 0 {
						path, body = "/v1/identify", map[string]any{"anonymousId": "anon-1", "userId": "user-1", "traits": map[string]any{"n": i}}
					}
					statuses[i] = b.post(t, path, body).status
				}()
			}
			close(start)
			wg.Wait()
			for i, s := range statuses {
				require.Equal(t, 200, s, "request %d", i)
			}
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers`))
			require.Equal(t, 2, b.count(t, `SELECT count(*) FROM identities`))
			require.Equal(t, 50, b.count(t, `SELECT count(*) FROM interactions`))
		})
	}
}

// TestConcurrentPipelinesMakeOneCustomer runs two pipelines on one database (two servers, or a
// server and `cairn import`): their transactions race on the same new identifiers.
func TestConcurrentPipelinesMakeOneCustomer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res, err := identity.New(context.Background(), b.db, identity.DefaultConfig(), nil) // its own cache, as in another process
	require.NoError(t, err)
	other, err := NewPipeline(context.Background(), b.db, res, &Options{Writers: 3})
	require.NoError(t, err)
	defer other.Close()
	submitAlternating(t, 40, b.pipe, other, func(i int) []wire.Message {
		return []wire.Message{
			{Type: wire.TypeTrack, Event: "E", AnonymousID: fmt.Sprint("shared-anon-", i%3), UserID: "shared-user"},
			{Type: wire.TypeIdentify, AnonymousID: fmt.Sprint("shared-anon-", (i+1)%3), Traits: obj(map[string]any{"email": "Shared@Example.org"})},
		}
	})
	// user_id, 3 shared anon ids, the email: one live profile holds them all.
	cust := b.customerOf(t, "user_id", "shared-user")
	require.Equal(t, cust, b.customerOf(t, "email", "shared@example.org"))
	for i := range 3 {
		require.Equal(t, cust, b.customerOf(t, "anonymous_id", fmt.Sprint("shared-anon-", i)))
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM identities i JOIN customers c ON c.id = i.customer_id WHERE c.merged_into_id IS NOT NULL`))
	require.Equal(t, 80, b.count(t, `SELECT count(*) FROM interactions`))
}

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

func TestDedupeByMessageID(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	msg := map[string]any{"anonymousId": "a", "event": "Paid", "messageId": "retry-me"}
	require.Equal(t, 200, b.post(t, "/v1/track", msg).status)
	require.Equal(t, 200, b.post(t, "/v1/track", msg).status, "the retry still succeeds")
	require.Equal(t, 200, b.post(t, "/v1/batch", map[string]any{"batch": []any{
		map[string]any{"type": "track", "anonymousId": "a", "event": "Paid", "messageId": "retry-me"},
		map[string]any{"type": "track", "anonymousId": "a", "event": "Twice", "messageId": "in-batch"},
		map[string]any{"type": "track", "anonymousId": "a", "event": "Twice", "messageId": "in-batch"},
	}}).status)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'retry-me'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'in-batch'`))
	res := b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Paid", AnonymousID: "a", MessageID: "retry-me"})
	require.Equal(t, Result{Duplicates: 1}, res)
	// A group that skipped the messageId check (no retry met lately) and holds a retried message
	// fails its COPY, and is committed again with the check.
	b.pipe.lastDuplicate.Store(0)
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Paid", AnonymousID: "a", MessageID: "retry-me"},
		wire.Message{Type: wire.TypeTrack, Event: "Paid", AnonymousID: "a", MessageID: "fresh"})
	require.Equal(t, Result{Stored: 1, Duplicates: 1}, res)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'fresh'`))
	// Missing messageIds are generated: two identical messages are two events.
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "NoID", AnonymousID: "a"}, wire.Message{Type: wire.TypeTrack, Event: "NoID", AnonymousID: "a"})
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'NoID'`))
}

func TestConsentDeniedDropsLaterEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	deny := map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Analytics": false, "Advertising": true}}}
	res := b.submit(t,
		wire.Message{Type: wire.TypeTrack, Event: "Before", AnonymousID: "a"},
		wire.Message{Type: wire.TypeTrack, Event: "Deny", AnonymousID: "a", Context: obj(deny)},
	)
	require.Equal(t, Result{Stored: 1, Dropped: 1}, res)
	cust := b.customerOf(t, "anonymous_id", "a")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'analytics' AND NOT granted`, cust))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'email_marketing' AND granted`, cust))

	// Later events of that person are dropped, through any of their identifiers.
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "After", AnonymousID: "a", UserID: "u"})
	require.Equal(t, Result{Dropped: 1}, res)
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "After", UserID: "u"})
	require.Equal(t, Result{Dropped: 1}, res)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions`))

	// Granting again resumes collection.
	grant := map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"analytics": true}}}
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Granted", UserID: "u", Context: obj(grant)})
	require.Equal(t, Result{Stored: 1}, res)
}

// TestConfiguredConsentPurposes: a purpose map replaces the defaults (app.IngestOptions merges
// CAIRN_CONSENT_PURPOSES over them): unmapped categories are not recorded, and mapped ones are
// recorded under the configured purpose.
func TestConfiguredConsentPurposes(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{ConsentPurposes: map[string]string{CategoryKey("Ad Targeting"): "ads"}}})
	prefs := map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Analytics": false, "ad_targeting": true}}}
	res := b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Prefs", AnonymousID: "a", Context: obj(prefs)})
	require.Equal(t, Result{Stored: 1}, res, "Analytics is not mapped here, so its denial drops nothing")
	cust := b.customerOf(t, "anonymous_id", "a")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'ads' AND granted`, cust))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1`, cust))
}

func TestKeepIP(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{KeepIP: true, DropContext: []string{"userAgent"}}})
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", AnonymousID: "a", MessageID: "ip", Context: obj(map[string]any{"ip": "203.0.113.77", "userAgent": "Mozilla"})})
	var ip string
	require.NoError(t, b.db.QueryRow(`SELECT coalesce(context->>'ip', ''), coalesce(context->>'userAgent', 'dropped') FROM interactions WHERE message_id = 'ip'`).Scan(&ip, new(string)))
	require.Equal(t, "203.0.113.77", ip)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE context ? 'userAgent'`))
}

// TestFailingRequestDoesNotPoisonItsGroup: a request that fails inside the shared transaction
// fails alone; the requests grouped with it commit.
func TestFailingRequestDoesNotPoisonItsGroup(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 1, Linger: 50 * time.Millisecond}})
	b.pipe.failHook = func(m *prepared) error {
		if m.event == "Poison" {
			return errors.New("poisoned message")
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			event := "Fine"
			if i == 3 {
				event = "Poison"
			}
			_, errs[i] = b.pipe.Submit(context.Background(), []wire.Message{{Type: wire.TypeTrack, Event: event, AnonymousID: fmt.Sprint("a", i)}}, "test")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 3 {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err, "request %d", i)
	}
	require.Equal(t, 9, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Poison'`))
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

func TestPageAndScreenEventNames(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	require.Equal(t, 200, b.post(t, "/v1/page", map[string]any{"userId": "u", "name": "Pricing", "category": "Docs",
		"properties": map[string]any{"path": "/pricing"}, "messageId": "p1"}).status)
	require.Equal(t, 200, b.post(t, "/v1/screen", map[string]any{"userId": "u", "name": "Cart", "messageId": "s1"}).status)
	require.Equal(t, 200, b.post(t, "/v1/page", map[string]any{"userId": "u", "messageId": "p2"}).status)
	for _, tc := range []struct{ id, kind, event, props string }{
		{"p1", "page", "Page Viewed", `{"category": "Docs", "name": "Pricing", "path": "/pricing"}`},
		{"s1", "screen", "Screen Viewed", `{"name": "Cart"}`},
		{"p2", "page", "Page Viewed", ``},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			var kind, event string
			var props sql.NullString
			require.NoError(t, b.db.QueryRow(`SELECT kind, event, properties::text FROM interactions WHERE message_id = $1`, tc.id).Scan(&kind, &event, &props))
			require.Equal(t, tc.kind, kind, tc.id)
			require.Equal(t, tc.event, event, tc.id)
			if tc.props == "" {
				require.False(t, props.Valid, tc.id)
			} else {
				require.JSONEq(t, tc.props, props.String, tc.id)
			}
		})
	}
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

// TestConcurrentRetriesStoredOnce: the same messages sent at once through two pipelines (two
// servers receiving a client's retry) are stored once, and every sender gets success.
func TestConcurrentRetriesStoredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	other, err := NewPipeline(context.Background(), b.db, b.res, nil)
	require.NoError(t, err)
	defer other.Close()
	submitAlternating(t, 20, b.pipe, other, func(int) []wire.Message {
		out := make([]wire.Message, 50)
		for i := range out {
			out[i] = wire.Message{Type: wire.TypeTrack, Event: "Paid", UserID: fmt.Sprint("u", i%5), MessageID: fmt.Sprint("same-", i)}
		}
		return out
	})
	require.Equal(t, 50, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM customers`))
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

// TestContentionNeverFailsRequests hammers overlapping identifiers (shared anonymousIds, users
// logging in on shared devices, emails linking profiles) from many clients through the HTTP
// handler with several writers: every request gets its 200 and every message is stored once.
func TestContentionNeverFailsRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 3}})
	const clients, requests, perRequest = 12, 15, 20
	var wg sync.WaitGroup
	statuses := make(chan response, clients*requests)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 3))
			for q := range requests {
				// Every client's q-th request draws from the same small pool of identifiers, new
				// to round q: the clients race to create, link and merge the same profiles.
				id := func(kind string, n int) string { return fmt.Sprintf("%s-%d-%d", kind, q, r.IntN(n)) }
				batch := make([]map[string]any, perRequest)
				for i := range batch {
					m := map[string]any{"messageId": fmt.Sprintf("c%d-q%d-m%d", c, q, i), "anonymousId": id("device", 8)}
					switch r.IntN(4) {
					case 0:
						m["type"], m["userId"] = "identify", id("user", 5)
						m["traits"] = map[string]any{"email": id("person", 6) + "@example.com", "n": i}
					case 1:
						m["type"], m["userId"], m["event"] = "track", id("user", 5), "Order Completed"
					case 2:
						m["type"], m["previousId"], m["userId"] = "alias", id("device", 8), id("user", 5)
					default:
						m["type"], m["name"] = "page", "Home"
					}
					batch[i] = m
				}
				statuses <- b.post(t, "/v1/batch", map[string]any{"batch": batch})
			}
		}()
	}
	wg.Wait()
	requireAllOK(t, statuses)
	t.Logf("retries: %v", b.retries(t))
	total := clients * requests * perRequest
	require.Equal(t, total, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, total, b.count(t, `SELECT count(DISTINCT message_id) FROM interactions`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.merged_into_id IS NOT NULL`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM (SELECT customer_id FROM identities WHERE type = 'user_id' GROUP BY customer_id HAVING count(*) > 1) x`))
}

// TestWritersDoNotRaceForNewIdentifiers: with several writers, groups that would claim the same
// new identifiers are committed one after the other (lockClaims), so none loses a claim race or
// deadlocks and has to be retried, and each new person is one customer.
func TestWritersDoNotRaceForNewIdentifiers(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 2}})
	const clients, rounds, perRequest = 8, 12, 10
	var wg sync.WaitGroup
	statuses := make(chan response, clients*rounds)
	for c := range clients {
		wg.Go(func() {
			for q := range rounds {
				// Every client's q-th request is about the same person, new in round q.
				batch := make([]map[string]any, perRequest)
				for i := range batch {
					batch[i] = map[string]any{"type": "track", "event": "Viewed", "messageId": fmt.Sprintf("c%d-q%d-m%d", c, q, i),
						"userId": fmt.Sprintf("user-%d", q), "anonymousId": fmt.Sprintf("device-%d", q)}
				}
				statuses <- b.post(t, "/v1/batch", map[string]any{"batch": batch})
			}
		})
	}
	wg.Wait()
	requireAllOK(t, statuses)
	require.Zero(t, b.retries(t), "no group lost a race for a new identifier")
	require.Equal(t, rounds, b.count(t, `SELECT count(*) FROM customers`))
	require.Equal(t, clients*rounds*perRequest, b.count(t, `SELECT count(*) FROM interactions`))
}

// TestIngestDoesNotWaitForTheDrain: while an incremental drain holds a customer's queued mark
// (deleted, not yet committed: it is re-evaluating segments), a new event about that customer
// commits at once and queues the customer again.
func TestIngestDoesNotWaitForTheDrain(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.addSegment(t)
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "First", UserID: "u"})
	cust := b.customerOf(t, "user_id", "u")
	drain, err := b.db.Begin()
	require.NoError(t, err)
	defer drain.Rollback() //nolint:errcheck
	_, err = drain.Exec(`DELETE FROM segment_dirty_customers WHERE customer_id = $1`, cust)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := b.pipe.Submit(ctx, []wire.Message{{Type: wire.TypeTrack, Event: "Second", UserID: "u"}}, "test")
	require.NoError(t, err, "the event must not wait for the drain's transaction")
	require.Equal(t, Result{Stored: 1}, res)
	require.NoError(t, drain.Commit())
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM segment_dirty_customers WHERE customer_id = $1`, cust), "queued again by the second event")
}

// TestBusyIsServiceUnavailable: a request that cannot be committed because of contention is
// answered 503 with Retry-After (clients retry 5xx), never 500.
func TestBusyIsServiceUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.pipe.failHook = func(m *prepared) error {
		if m.event == "Contended" {
			return fmt.Errorf("simulated: %w", identity.ErrConcurrentChange)
		}
		return nil
	}
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/track", strings.NewReader(`{"userId":"u","event":"Contended"}`))
	require.NoError(t, err)
	req.SetBasicAuth(b.key, "")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 200, b.post(t, "/v1/track", map[string]any{"userId": "u", "event": "Fine"}).status)
}

// requireAllOK closes statuses and requires every response in it to be a 200.
func requireAllOK(t *testing.T, statuses chan response) {
	t.Helper()
	close(statuses)
	for resp := range statuses {
		require.Equal(t, 200, resp.status, "response %v", resp.body)
	}
}

// retries is the pipeline's count of retried group transactions.
func (b *testBundle) retries(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, b.pipe.m.retries.Write(&m))
	return m.GetCounter().GetValue()
}

// TestConnectionLostDuringCopy: a group whose connection dies just before its COPY is retried
// on another connection, so the request still succeeds and its event is stored once; the
// writer once hung for good instead, database/sql closing the connection under the writer's
// own open transaction.
func TestConnectionLostDuringCopy(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var once sync.Once
	terminated := 0
	b.pipe.copyHook = func() {
		once.Do(func() {
			// The writer's transaction is the only one open, waiting for its COPY.
			require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction') t`).Scan(&terminated))
		})
	}
	submit := func(event string) (Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return b.pipe.Submit(ctx, []wire.Message{{Type: wire.TypeTrack, Event: event, UserID: "lost"}}, "test")
	}
	res, err := submit("Lost")
	require.NoError(t, err)
	require.Equal(t, 1, terminated, "the writer's connection was cut")
	require.Equal(t, Result{Stored: 1}, res)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Lost'`))

	res, err = submit("After")
	require.NoError(t, err)
	require.Equal(t, Result{Stored: 1}, res)
}

// submitAlternating submits n requests at once, msgs(i) for the i-th, alternating between
// pipelines a and b, and requires every one to succeed.
func submitAlternating(t *testing.T, n int, a, b *Pipeline, msgs func(i int) []wire.Message) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if i%2 == 1 {
				p = b
			}
			_, err := p.Submit(context.Background(), msgs(i), "test")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestSecondPipelineOnOneRegistryRefused: metrics registered twice would leave the second
// pipeline's counters unexported, so the second registration is an error.
func TestSecondPipelineOnOneRegistryRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	reg := prometheus.NewRegistry()
	first, err := NewPipeline(context.Background(), b.db, b.res, &Options{Registerer: reg})
	require.NoError(t, err)
	defer first.Close()
	_, err = NewPipeline(context.Background(), b.db, b.res, &Options{Registerer: reg})
	require.ErrorContains(t, err, "error registering ingest metrics")
}

// TestWriterSetsAsideClaimedRequests: while one writer's open group holds a new identifier's
// claim, the other writer commits the requests of its group that do not need it at once,
// instead of idling until that group ends, and commits the one that does need it afterwards.
func TestWriterSetsAsideClaimedRequests(t *testing.T) {
	t.Parallel()
	// Linger makes the second writer gather both later requests into one group.
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 2, Linger: time.Second}})
	held, release := make(chan struct{}), make(chan struct{})
	var hooks sync.Mutex
	calls := 0
	b.pipe.copyHook = func() {
		hooks.Lock()
		calls++
		first := calls == 1
		hooks.Unlock()
		if first { // the group claiming "x" stays open until released
			close(held)
			<-release
		}
	}
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	submit := func(event, user string) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := b.pipe.Submit(context.Background(), []wire.Message{{Type: wire.TypeTrack, Event: event, UserID: user}}, "test")
			done <- err
		}()
		return done
	}
	first := submit("First", "x")
	<-held
	again := submit("Again", "x") // waits for the open group's claim on "x"
	other := submit("Other", "y") // needs no claim another group holds
	select {
	case err := <-other:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("a request needing no held claim waited for the group holding one")
	}
	select {
	case err := <-again:
		t.Fatalf("a request committed while another group held its identifier's claim (err %v)", err)
	default:
	}
	releaseOnce.Do(func() { close(release) })
	require.NoError(t, <-first)
	require.NoError(t, <-again)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers c JOIN identities i ON i.customer_id = c.id WHERE i.value = 'x'`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM interactions i JOIN identities d ON d.customer_id = i.customer_id WHERE d.value = 'x'`))
	require.Zero(t, b.retries(t), "no group lost a race for a new identifier")
}

// TestDeferClaimedBounds: a request is set aside only while another group claims one of its new
// identifiers, at most maxDefers times, and never when every request of the group would wait.
func TestDeferClaimedBounds(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 2}})
	p := b.pipe
	req := func(user string) *request {
		pm, err := p.prepare(&wire.Message{Type: wire.TypeTrack, Event: "E", UserID: user}, time.Now())
		require.NoError(t, err)
		return &request{msgs: []*prepared{pm}}
	}
	// Another writer's open group claims "held".
	unlock := p.lockClaims([]*request{req("held")})
	defer unlock()

	waits, free := req("held"), req("free")
	for i := range maxDefers {
		now, later := p.deferClaimed([]*request{waits, free})
		require.Equal(t, []*request{free}, now, "round %d", i)
		require.Equal(t, []*request{waits}, later, "round %d", i)
	}
	now, later := p.deferClaimed([]*request{waits, free})
	require.Len(t, now, 2, "set aside maxDefers times already: committed (waiting) this time")
	require.Empty(t, later)

	onlyWaiting := []*request{req("held"), req("held")}
	now, later = p.deferClaimed(onlyWaiting)
	require.Equal(t, onlyWaiting, now, "nothing to commit meanwhile: the group waits whole")
	require.Empty(t, later)

	known, other := req("free"), req("other")
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", UserID: "free"})
	now, later = p.deferClaimed([]*request{known, other})
	require.Len(t, now, 2)
	require.Empty(t, later)
	require.NotNil(t, known.claims, "computed")
	require.Empty(t, known.claims, "a known identifier needs no claim")
	require.Len(t, other.claims, 1, "a new user_id")

	// lockClaims takes the computed keys once; a retry of the group computes them afresh.
	release := p.lockClaims(now)
	require.Nil(t, known.claims)
	require.Nil(t, other.claims)
	now, later = p.deferClaimed([]*request{req("other"), req("free")})
	require.Len(t, later, 1, "other's new user_id is claimed by the group just locked")
	require.Len(t, now, 1)
	release()
	now, later = p.deferClaimed([]*request{req("other"), req("free")})
	require.Len(t, now, 2, "released")
	require.Empty(t, later)
}
