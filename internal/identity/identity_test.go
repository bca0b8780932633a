package identity

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/schema"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	n := NewNormalizer(DefaultConfig())
	us := NewNormalizer(Config{PhoneRegion: "US"})
	cases := []struct {
		name       string
		n          *Normalizer
		typ, value string
		want       string
		err        error
	}{
		{"email lower-cased and trimmed", n, TypeEmail, "  Ada@Example.COM ", "ada@example.com", nil},
		{"email without @", n, TypeEmail, "not-an-email", "", ErrInvalid},
		{"email on the blocklist", n, TypeEmail, "TEST@test.com", "", ErrJunk},
		{"user_id trimmed", n, TypeUserID, " 42 ", "42", nil},
		{"user_id null", n, TypeUserID, "null", "", ErrJunk},
		{"user_id Undefined", n, TypeUserID, "Undefined", "", ErrJunk},
		{"anonymous_id empty", n, TypeAnonymousID, "", "", ErrJunk},
		{"anonymous_id 0", n, TypeAnonymousID, "0", "", ErrJunk},
		{"phone international", n, TypePhone, "+1 (415) 555-0100", "+14155550100", nil},
		{"phone 00 prefix", n, TypePhone, "0044 20 7946 0958", "+442079460958", nil},
		{"phone without region: digits only", n, TypePhone, "415-555-0100", "4155550100", nil},
		{"phone with region US", us, TypePhone, "(415) 555-0100", "+14155550100", nil},
		{"phone all zeros", n, TypePhone, "000-000", "", ErrJunk},
		{"external id trimmed", n, "external:shopify_id", " 991 ", "991", nil},
		{"external without source", n, "external:", "x", "", ErrInvalid},
		{"unknown type", n, "fax", "x", "", ErrInvalid},
		{"device_id with NUL", n, TypeDeviceID, "a\x00b", "", ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.n.Normalize(tc.typ, tc.value)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, "%s %q", tc.typ, tc.value)
				return
			}
			require.NoError(t, err, "%s %q", tc.typ, tc.value)
			require.Equal(t, tc.want, got, "%s %q", tc.typ, tc.value)
		})
	}
}

func TestConfigLimit(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	require.Equal(t, 1, cfg.Limit(TypeUserID))
	require.Equal(t, 5, cfg.Limit(TypeEmail))
	cfg.Limits["email"] = 2
	require.Equal(t, 2, cfg.Limit(TypeEmail))
}

type testBundle struct {
	db  *sql.DB
	res *Resolver
}

func setup(t *testing.T) *testBundle { return setupBench(t) }

func setupBench(t testing.TB) *testBundle {
	t.Helper()
	db := testdb.New(t)
	res, err := New(context.Background(), db, DefaultConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(res.Close)
	return &testBundle{db: db, res: res}
}

// resolve runs one batch of subjects in a transaction and returns each subject's customer.
func (b *testBundle) resolve(t *testing.T, subjects ...Subject) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	batch, err := b.res.Resolve(ctx, tx, subjects)
	require.NoError(t, err)
	out := make([]uuid.UUID, len(subjects))
	for i, s := range subjects {
		out[i] = batch.Customer(i)
		batch.Observe(out[i], s.At, nil)
	}
	require.NoError(t, batch.Flush(ctx, "system"))
	require.NoError(t, batch.Finish(ctx))
	require.NoError(t, tx.Commit())
	batch.Committed()
	return out
}

func (b *testBundle) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow(q, args...).Scan(&n))
	return n
}

// addSegment creates a segment (any rule), so ingest queues the customers it touches.
func (b *testBundle) addSegment(t testing.TB) {
	t.Helper()
	_, err := b.db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
		VALUES (gen_random_uuid(), now(), now(), 'pro', '{"trait":{"key":"plan","op":"EQ","value":"pro"}}', 3600, 0, 'ready')`)
	require.NoError(t, err)
}

func subject(ids ...string) Subject {
	s := Subject{At: time.Now()}
	for i := 0; i+1 < len(ids); i += 2 {
		s.IDs = append(s.IDs, Identifier{Type: ids[i], Value: ids[i+1]})
	}
	return s
}

func TestResolveKnownAndNew(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addSegment(t)
	first := b.resolve(t, subject(TypeAnonymousID, "a1"), subject(TypeAnonymousID, "a2"), subject(TypeAnonymousID, "a1", TypeEmail, "x@y.z"))
	require.NotEqual(t, first[0], first[1])
	require.Equal(t, first[0], first[2])
	again := b.resolve(t, subject(TypeEmail, "x@y.z"))
	require.Equal(t, first[0], again[0])
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM customers`))
	require.Equal(t, 2, b.count(t, `SELECT count(DISTINCT customer_id) FROM segment_dirty_customers`), "both customers are queued for segments")
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM segment_dirty_customers`), "once per batch that touched them (the queue is append-only)")
}

func TestManualMergeMovesEverything(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ids := b.resolve(t, subject(TypeAnonymousID, "from"), subject(TypeAnonymousID, "into"))
	from, into := ids[0], ids[1]

	// Both in segment s1 (one open stay each), from alone in s2, plus a consent.
	s1, s2 := schema.NewID(), schema.NewID()
	for _, s := range []uuid.UUID{s1, s2} {
		_, err := b.db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule) VALUES ($1, now(), now(), $2, '{}')`, s, s.String())
		require.NoError(t, err)
	}
	for _, m := range [][2]uuid.UUID{{s1, from}, {s1, into}, {s2, from}} {
		_, err := b.db.Exec(`INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) VALUES ($1, $2, $3, now())`, schema.NewID(), m[0], m[1])
		require.NoError(t, err)
	}
	_, err := b.db.Exec(`INSERT INTO consents (id, customer_id, purpose, granted, recorded_at) VALUES ($1, $2, 'analytics', true, now())`, schema.NewID(), from)
	require.NoError(t, err)

	// "into" is younger, yet survives: the operator chose it.
	got, err := b.res.Merge(ctx, from, into, "key:test")
	require.NoError(t, err)
	require.Equal(t, into, got)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM identities WHERE customer_id = $1`, into))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1`, into))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM segment_memberships WHERE customer_id = $1 AND exited_at IS NULL`, into))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM segment_memberships WHERE customer_id = $1`, from))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'customer.merge' AND actor = 'key:test'`))

	// Merging again (or the merged-away id into its survivor) is a no-op; into itself is refused.
	got, err = b.res.Merge(ctx, from, into, "key:test")
	require.NoError(t, err)
	require.Equal(t, into, got)
	_, err = b.res.Merge(ctx, into, into, "key:test")
	require.ErrorIs(t, err, ErrInvalidInput)
	_, err = b.res.Merge(ctx, uuid.New(), into, "key:test")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestManualMergeRefusesTwoUserIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.resolve(t, subject(TypeUserID, "u1"), subject(TypeUserID, "u2"))
	_, err := b.res.Merge(context.Background(), ids[0], ids[1], "")
	require.ErrorIs(t, err, ErrConflict)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`))
}

// TestQueueOnlyWhileSegmentsExist: with no segment, resolving queues nobody for segment
// re-evaluation (nothing would consume it); once a segment exists, touched customers are queued.
func TestQueueOnlyWhileSegmentsExist(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.resolve(t, subject(TypeAnonymousID, "q1"))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM segment_dirty_customers`))
	b.addSegment(t)
	b.resolve(t, subject(TypeAnonymousID, "q1"), subject(TypeAnonymousID, "q2"))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM segment_dirty_customers`))
}

// TestSegmentCreationWaitsForResolvers: creating a segment waits until every transaction that
// resolved (and so may have skipped queueing, finding no segment) has ended, and a transaction
// that starts resolving meanwhile waits for the segment and then queues its customers. Without
// that, a segment's first computation could miss an event committed just after it started.
func TestSegmentCreationWaitsForResolvers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	batch, err := b.res.Resolve(ctx, tx, []Subject{subject(TypeAnonymousID, "early")})
	require.NoError(t, err)

	created := make(chan error, 1)
	go func() {
		_, err := b.db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
			VALUES (gen_random_uuid(), now(), now(), 'late', '{"trait":{"key":"plan","op":"EQ","value":"pro"}}', 3600, 0, 'ready')`)
		created <- err
	}()
	b.waitForBarrier(t)
	select {
	case err := <-created:
		t.Fatalf("the segment was created while a resolving transaction was open (err %v)", err)
	default:
	}
	batch.Observe(batch.Customer(0), time.Now(), nil)
	require.NoError(t, batch.Flush(ctx, "system"))
	require.NoError(t, batch.Finish(ctx))
	require.NoError(t, tx.Commit())
	require.NoError(t, <-created)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM segment_dirty_customers`), "the early transaction saw no segment")

	b.resolve(t, subject(TypeAnonymousID, "after"))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM segment_dirty_customers`), "a later one sees it")
}

// waitForBarrier waits until a statement of the test's database waits for the segment queue
// barrier (an advisory lock), the only lock these tests' segment changes can wait for.
func (b *testBundle) waitForBarrier(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND wait_event = 'advisory'`) > 0
	}, 30*time.Second, 10*time.Millisecond, "the segment change never waited for the barrier")
}

// TestOlderEmailIsNotWrittenBack: a group planned before another group commits a new email
// for the same customer must not write the old email back when it updates the seen times.
func TestOlderEmailIsNotWrittenBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// No cache, so planning reads the customer (as after a cache reset, or in a second process).
	res, err := New(ctx, b.db, Config{Limits: map[string]int{TypeUserID: 1}, DefaultLimit: 5, SeenGranularity: time.Minute, CacheSize: -1}, nil)
	require.NoError(t, err)
	defer res.Close()
	ids := []Identifier{{Type: TypeAnonymousID, Value: "a1"}}
	run := func(at time.Time, traits map[string]any) (*Batch, *sql.Tx) {
		tx, err := b.db.BeginTx(ctx, nil)
		require.NoError(t, err)
		bt, err := res.Resolve(ctx, tx, []Subject{{IDs: ids, At: at}})
		require.NoError(t, err)
		bt.Observe(bt.Customer(0), at, traits)
		return bt, tx
	}
	commit := func(bt *Batch, tx *sql.Tx) {
		require.NoError(t, bt.Flush(ctx, "system"))
		require.NoError(t, bt.Finish(ctx))
		require.NoError(t, tx.Commit())
	}
	now := time.Now()
	first, tx := run(now.Add(-time.Hour), map[string]any{"email": "old@example.org"})
	commit(first, tx)
	late, lateTx := run(now, nil) // planned now: its seen time moves the row
	newer, tx := run(now.Add(-time.Minute), map[string]any{"email": "new@example.org"})
	commit(newer, tx)
	commit(late, lateTx)

	var email, trait string
	require.NoError(t, b.db.QueryRow(`SELECT email, traits->>'email' FROM customers WHERE id = $1`, first.Customer(0)).Scan(&email, &trait))
	require.Equal(t, "new@example.org", trait)
	require.Equal(t, "new@example.org", email)
}

// TestRuleChangeWaitsForResolvers: changing a segment's rule waits, as creating one does, for
// transactions holding the queue barrier (ComputeRFM queues only while some rule uses rfm).
func TestRuleChangeWaitsForResolvers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addSegment(t)
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	_, err = b.res.Resolve(ctx, tx, []Subject{subject(TypeAnonymousID, "holder")})
	require.NoError(t, err)

	// Other updates of a segment (its counts, its status) do not wait.
	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = b.db.ExecContext(quick, `UPDATE segments SET member_count = 1`)
	require.NoError(t, err)

	changed := make(chan error, 1)
	go func() {
		_, err := b.db.Exec(`UPDATE segments SET rule = '{"rfm":{"label":"Champions"}}'`)
		changed <- err
	}()
	b.waitForBarrier(t)
	select {
	case err := <-changed:
		t.Fatalf("the rule changed while a transaction held the barrier (err %v)", err)
	default:
	}
	require.NoError(t, tx.Rollback())
	require.NoError(t, <-changed)
}

// TestFlushRefusesCustomersChangedSincePlanning checks lock-customers' verdicts: a customer
// planning read that another transaction merged away, or deleted, before the group locked it
// fails the group with ErrConcurrentChange (the caller retries), and the cache forgets it.
func TestFlushRefusesCustomersChangedSincePlanning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ids := b.resolve(t, subject(TypeAnonymousID, "m1"), subject(TypeAnonymousID, "m2"), subject(TypeAnonymousID, "gone"),
		subject(TypeAnonymousID, "fine"))
	for _, tc := range []struct {
		name   string
		anon   string
		change func(t *testing.T)
		want   string
	}{
		{"merged", "m1", func(t *testing.T) {
			_, err := b.res.Merge(ctx, ids[0], ids[1], "test")
			require.NoError(t, err)
		}, "customer " + ids[0].String() + " was merged"},
		{"deleted", "gone", func(t *testing.T) {
			_, err := b.db.Exec(`DELETE FROM identities WHERE customer_id = $1`, ids[2])
			require.NoError(t, err)
			_, err = b.db.Exec(`DELETE FROM customers WHERE id = $1`, ids[2])
			require.NoError(t, err)
		}, "customer " + ids[2].String() + " was deleted"},
	} {
		// Not parallel: the cases share the customers, and the retry below follows both.
		t.Run(tc.name, func(t *testing.T) {
			tx, err := b.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() //nolint:errcheck // a no-op after the Rollback below
			s := subject(TypeAnonymousID, tc.anon)
			s.At = time.Now().Add(time.Hour) // moves the seen times: the row is locked to be written
			batch, err := b.res.Resolve(ctx, tx, []Subject{s, subject(TypeAnonymousID, "fine")})
			require.NoError(t, err, tc.name)
			// Between planning and locking, another transaction changes the customer.
			tc.change(t)
			batch.Observe(batch.Customer(0), s.At, nil)
			err = batch.Flush(ctx, "system")
			require.ErrorIs(t, err, ErrConcurrentChange, tc.name)
			require.ErrorContains(t, err, tc.want, tc.name)
			require.NoError(t, tx.Rollback())
		})
	}
	// The retry resolves afresh: m1 now belongs to the survivor, gone is someone new.
	again := b.resolve(t, subject(TypeAnonymousID, "m1"), subject(TypeAnonymousID, "gone"), subject(TypeAnonymousID, "fine"))
	require.Equal(t, ids[1], again[0])
	require.NotEqual(t, ids[2], again[1])
	require.Equal(t, ids[3], again[2])
}

// TestFlushLocksEveryCustomer checks that lock-customers, which returns only the rows that are
// not fine, still locks every customer of the group until the transaction ends.
func TestFlushLocksEveryCustomer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ids := b.resolve(t, subject(TypeAnonymousID, "l1"), subject(TypeAnonymousID, "l2"))
	tx, err := b.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	s1, s2 := subject(TypeAnonymousID, "l1"), subject(TypeAnonymousID, "l2")
	s1.At = time.Now().Add(time.Hour) // l1's row is rewritten (FOR NO KEY UPDATE); l2's only referenced (FOR KEY SHARE)
	batch, err := b.res.Resolve(ctx, tx, []Subject{s1, s2})
	require.NoError(t, err)
	batch.Observe(batch.Customer(0), s1.At, nil)
	batch.Observe(batch.Customer(1), s2.At, nil)
	require.NoError(t, batch.Flush(ctx, "system"))
	for _, id := range ids {
		_, err := b.db.ExecContext(ctx, `SELECT 1 FROM customers WHERE id = $1 FOR UPDATE NOWAIT`, id)
		var pqErr *pq.Error
		require.True(t, errors.As(err, &pqErr) && pqErr.Code == "55P03", "customer %s must be locked, got %v", id, err)
	}
}
