package privacy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/pgdev"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// person is the identifiers one seeded person is known by.
type person struct {
	userID, email, phone, device string
	anons                        []string
}

func (p person) all() []string {
	return append([]string{p.userID, p.email, p.phone, p.device}, p.anons...)
}

// seedPerson creates three profiles (one per anonymous id) that later messages merge into one,
// with events, an analytics consent and a segment membership.
func seedPerson(t *testing.T, b *testBundle, p person) {
	t.Helper()
	ctx := context.Background()
	for _, a := range p.anons {
		b.submit(t, wire.Message{Type: "track", AnonymousID: a, Event: "Product Viewed",
			Properties: obj(map[string]any{"sku": "sku-1"})})
	}
	require.Equal(t, 3, b.count(t, `SELECT count(DISTINCT customer_id) FROM identities WHERE value = ANY($1)`, pqArray(p.anons)))
	b.submit(t,
		wire.Message{Type: "identify", UserID: p.userID, AnonymousID: p.anons[0],
			Traits:  obj(map[string]any{"email": p.email, "phone": p.phone, "name": "Someone"}),
			Context: obj(map[string]any{"device": map[string]any{"id": p.device}})},
		wire.Message{Type: "identify", UserID: p.userID, AnonymousID: p.anons[1]},
		wire.Message{Type: "identify", AnonymousID: p.anons[2], Traits: obj(map[string]any{"email": p.email})},
		wire.Message{Type: "track", UserID: p.userID, Event: "Order Completed",
			Properties: obj(map[string]any{"total": 12.5, "email": p.email}),
			Context:    obj(map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"analytics": true}}})},
	)
	root := b.customerOf(t, "user_id", p.userID)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NOT NULL AND id IN (
		SELECT id FROM customers WHERE merged_into_id = $1)`, root), "three merged profiles")
	_, err := b.svc.RecordConsent(ctx, "key:test", privacy.ConsentInput{CustomerID: &root,
		Purpose: "email_marketing", Granted: true, Source: "test", Proof: map[string]any{"form": "signup", "email": p.email}})
	require.NoError(t, err)
	_, err = b.db.Exec(`INSERT INTO segment_memberships (id, entered_at, customer_id, segment_id)
		SELECT gen_random_uuid(), now(), $1, id FROM segments WHERE name = 'all'`, root)
	require.NoError(t, err)
	b.dest.mu.Lock()
	b.dest.held[p.email] = true
	b.dest.mu.Unlock()
}

func TestErasureLeavesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
		VALUES (gen_random_uuid(), now(), now(), 'all', '{"identity":{"type":"email","exists":true}}', 3600, 0, 'ready')`)
	require.NoError(t, err)

	gone := person{userID: "erase-user-7f3a", email: "erase.me.7f3a@example.org", phone: "+14155550187",
		device: "erase-device-7f3a", anons: []string{"erase-anon-7f3a-1", "erase-anon-7f3a-2", "erase-anon-7f3a-3"}}
	kept := person{userID: "kept-user-91bc", email: "kept.91bc@example.org", phone: "+14155550142",
		device: "kept-device-91bc", anons: []string{"kept-anon-91bc-1", "kept-anon-91bc-2", "kept-anon-91bc-3"}}
	mc := syncedCampaign(t, b)
	seedPerson(t, b, gone)
	seedPerson(t, b, kept)
	mc.sync(t)
	for _, e := range []string{gone.email, kept.email} {
		_, held := mc.fake.Member(e)
		require.True(t, held, "the campaign sync sent %s", e)
	}
	// A queued job naming the person must not outlive the erasure.
	_, err = b.db.Exec(`INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at, priority)
		VALUES (jsonb_build_object('email', $1::text), 'test_job', 1, 'default', 'available', now(), 1)`, gone.email)
	require.NoError(t, err)

	keptRoot := b.customerOf(t, "user_id", kept.userID)
	keptCounts := func() []int {
		return []int{
			b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1`, keptRoot),
			b.count(t, `SELECT count(*) FROM identities WHERE customer_id = $1`, keptRoot),
			b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1`, keptRoot),
			b.count(t, `SELECT count(*) FROM segment_memberships WHERE customer_id = $1`, keptRoot),
			b.count(t, `SELECT count(*) FROM customers WHERE id = $1 OR merged_into_id = $1`, keptRoot),
		}
	}
	before := keptCounts()

	req, err := b.svc.RequestErasure(ctx, "key:test", "email", strings.ToUpper(gone.email))
	require.NoError(t, err)
	require.Equal(t, privacyrequest.StatusPending, req.Status)
	require.Equal(t, []any{req.ID}, anySlice(b.sched.erasure))
	// Another process whose suppression mirror has not refreshed yet accepts an event about
	// the person (with a new anonymous id) just after the erasure commits: the sweep erases it.
	stale := stalePipeline(t, b)
	privacy.SetBeforeSweep(b.svc, func() {
		res, err := stale.Submit(ctx, []wire.Message{{Type: "track", UserID: gone.userID, AnonymousID: "late-anon-7f3a", Event: "Late"}}, "test")
		require.NoError(t, err)
		require.Equal(t, 1, res.Stored)
	})
	gone.anons = append(gone.anons, "late-anon-7f3a")
	counts, err := b.svc.Erase(ctx, req.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 4, counts.Profiles, "three, then the late one")
	require.Equal(t, 8, counts.Interactions, "3 views, 3 identifies, 1 order, then the late event")
	require.Equal(t, 1, counts.Jobs)
	require.GreaterOrEqual(t, counts.Suppressed, 7)
	mc.runErasures(t)

	t.Run("pg_dump holds none of the identifiers", func(t *testing.T) {
		dump := pgDump(t, b.url)
		require.Contains(t, dump, kept.email, "the dump holds other people's data")
		lower := strings.ToLower(dump)
		for _, v := range gone.all() {
			require.NotContains(t, lower, strings.ToLower(v))
		}
		require.NotContains(t, dump, strings.TrimPrefix(gone.phone, "+"))
	})
	t.Run("other people untouched", func(t *testing.T) {
		require.Equal(t, before, keptCounts())
	})
	t.Run("destinations no longer hold the person", func(t *testing.T) {
		require.Contains(t, b.dest.erased, gone.email)
		require.False(t, b.dest.held[gone.email])
		require.True(t, b.dest.held[kept.email])
		_, held := mc.fake.Member(gone.email)
		require.False(t, held, "the fake Mailchimp no longer holds the person")
		require.Equal(t, []string{gone.email}, mc.fake.Deleted(), "deleted permanently")
		_, held = mc.fake.Member(kept.email)
		require.True(t, held)
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM campaign_members WHERE email = $1`, gone.email))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM campaign_members WHERE email = $1`, kept.email))
	})
	t.Run("request completed without the identifier", func(t *testing.T) {
		got, err := txn.NewClient(b.db).PrivacyRequest.Get(ctx, req.ID)
		require.NoError(t, err)
		require.Equal(t, privacyrequest.StatusCompleted, got.Status)
		require.Nil(t, got.IdentityValue)
		require.NotNil(t, got.CompletedAt)
		require.EqualValues(t, 7, got.Counts["interactions"])
		require.EqualValues(t, 1, got.Counts["late"].(map[string]any)["interactions"])
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'privacy.erase_complete' AND target_id = $1`, req.ID.String()))
	})
	t.Run("later events are dropped and counted", func(t *testing.T) {
		for i, m := range []wire.Message{
			{Type: "track", UserID: gone.userID, Event: "Came Back"},
			{Type: "track", AnonymousID: "fresh-anon-7f3a", Event: "Came Back", Context: obj(map[string]any{"traits": map[string]any{"email": gone.email}})},
			{Type: "track", AnonymousID: gone.anons[2], Event: "Came Back"},
		} {
			res := b.submit(t, m)
			require.Equal(t, 1, res.Suppressed, "message %d", i)
			require.Zero(t, res.Stored)
		}
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Came Back'`))
		require.Equal(t, 3.0, b.metric(t, "cairn_ingest_dropped_events_total", "reason", "suppressed"))
		res := b.submit(t, wire.Message{Type: "track", UserID: kept.userID, Event: "Came Back"})
		require.Equal(t, 1, res.Stored)
	})
	t.Run("another process loads the list", func(t *testing.T) {
		other := privacy.NewSuppressions(b.db, b.box)
		require.NoError(t, other.Refresh(ctx))
		require.Equal(t, counts.Suppressed, other.Len())
	})
	t.Run("lifting lets the identifier in again", func(t *testing.T) {
		lifted, err := b.svc.LiftSuppression(ctx, "key:admin", "user_id", gone.userID)
		require.NoError(t, err)
		require.True(t, lifted)
		res := b.submit(t, wire.Message{Type: "track", UserID: gone.userID, Event: "Came Back"})
		require.Equal(t, 1, res.Stored)
		lifted, err = b.svc.LiftSuppression(ctx, "key:admin", "user_id", gone.userID)
		require.NoError(t, err)
		require.False(t, lifted)
	})
	t.Run("erasing again is a no-op", func(t *testing.T) {
		privacy.SetBeforeSweep(b.svc, nil)
		again, err := b.svc.Erase(ctx, req.ID, 0)
		require.NoError(t, err)
		require.Zero(t, again)
	})
}

// stalePipeline is another process's ingest: its own resolver, and no suppression list yet.
func stalePipeline(t *testing.T, b *testBundle) *ingest.Pipeline {
	t.Helper()
	res, err := identity.New(context.Background(), b.db, identity.DefaultConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(res.Close)
	p, err := ingest.NewPipeline(context.Background(), b.db, res, nil)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func pgDump(t *testing.T, url string) string {
	t.Helper()
	out, err := exec.Command(pgDumpPath(t), "--data-only", "--no-owner", "-d", url).CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// pgDumpPath finds pg_dump beside initdb (as pgdev finds it), else in the highest Debian
// version directory, else on PATH.
func pgDumpPath(t *testing.T) string {
	t.Helper()
	if bin, err := pgdev.FindBinaries(); err == nil {
		if p := filepath.Join(bin, "pg_dump"); isFile(p) {
			return p
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	slices.Sort(dirs)
	if len(dirs) > 0 {
		return dirs[len(dirs)-1]
	}
	p, err := exec.LookPath("pg_dump")
	require.NoError(t, err, "pg_dump is needed")
	return p
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func anySlice[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}
