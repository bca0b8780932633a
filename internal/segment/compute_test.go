package segment

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

type recordingScheduler struct {
	mu       sync.Mutex
	syncs    []uuid.UUID
	computes []uuid.UUID
}

func (s *recordingScheduler) ScheduleSync(_ context.Context, tx *sql.Tx, id uuid.UUID) error {
	if tx == nil {
		panic("no tx")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs = append(s.syncs, id)
	return nil
}

func (s *recordingScheduler) ScheduleCompute(_ context.Context, tx *sql.Tx, id uuid.UUID) (*queue.Job, error) {
	if tx == nil {
		panic("no tx")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.computes = append(s.computes, id)
	return &queue.Job{Kind: "compute_segment"}, nil
}

type testBundle struct {
	db     *sql.DB
	client *ent.Client
	svc    *Service
	sched  *recordingScheduler
	now    time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := testdb.New(t)
	b := &testBundle{db: db, client: txn.NewClient(db), sched: &recordingScheduler{}, now: time.Now().UTC().Truncate(time.Microsecond)}
	b.svc = &Service{DB: db, Scheduler: b.sched, Now: func() time.Time { return b.now }}
	return b
}

func (b *testBundle) customer(t *testing.T, traits string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := b.db.Exec(`INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), $2, '{}', now(), now())`, id, traits)
	require.NoError(t, err)
	return id
}

func (b *testBundle) setTraits(t *testing.T, id uuid.UUID, traits string) {
	t.Helper()
	_, err := b.db.Exec(`UPDATE customers SET traits = $2 WHERE id = $1`, id, traits)
	require.NoError(t, err)
}

type stay struct {
	id      uuid.UUID
	entered time.Time
	exited  *time.Time
}

func (b *testBundle) stays(t *testing.T, seg, cust uuid.UUID) []stay {
	t.Helper()
	rows, err := b.db.Query(`SELECT id, entered_at, exited_at FROM segment_memberships
		WHERE segment_id = $1 AND customer_id = $2 ORDER BY entered_at, id`, seg, cust)
	require.NoError(t, err)
	defer rows.Close()
	var out []stay
	for rows.Next() {
		var s stay
		require.NoError(t, rows.Scan(&s.id, &s.entered, &s.exited))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func (b *testBundle) create(t *testing.T, name string, r *Rule) *ent.Segment {
	t.Helper()
	var seg *ent.Segment
	require.NoError(t, txn.Run(context.Background(), b.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		var err error
		seg, err = Create(ctx, tx, nil, CreateInput{Name: name, Rule: r})
		return err
	}))
	return seg
}

func TestComputeMembershipHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	a := b.customer(t, `{"plan": "pro"}`)
	c := b.customer(t, `{"plan": "free"}`)
	seg := b.create(t, "pro", trait("plan", OpEQ, "PRO"))
	// A campaign on the segment: changes schedule its sync in the computing transaction.
	dest, camp := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	_, err := b.db.Exec(`INSERT INTO destinations (id, created_at, updated_at, kind, name, config) VALUES ($1, now(), now(), 'webhook', 'hook', '{}')`, dest)
	require.NoError(t, err)
	_, err = b.db.Exec(`INSERT INTO campaigns (id, created_at, updated_at, name, segment_id, destination_id, status) VALUES ($1, now(), now(), 'c', $2, $3, 'draft')`, camp, seg.ID, dest)
	require.NoError(t, err)

	t1 := b.now
	res, err := b.svc.Compute(ctx, seg.ID)
	require.NoError(t, err)
	require.Equal(t, Result{Members: 1, Entered: 1, Exited: 0}, *res)
	require.Len(t, b.stays(t, seg.ID, a), 1)
	require.Empty(t, b.stays(t, seg.ID, c))
	require.Equal(t, []uuid.UUID{camp}, b.sched.syncs)
	first := b.stays(t, seg.ID, a)[0]
	require.True(t, first.entered.Equal(t1))

	// Stay: nothing changes, no row is touched, nothing is scheduled.
	b.now = t1.Add(time.Hour)
	res, err = b.svc.Compute(ctx, seg.ID)
	require.NoError(t, err)
	require.Equal(t, Result{Members: 1}, *res)
	require.Equal(t, []stay{first}, b.stays(t, seg.ID, a))
	require.Len(t, b.sched.syncs, 1)

	// a exits, c enters.
	b.setTraits(t, a, `{"plan": "free"}`)
	b.setTraits(t, c, `{"plan": "Pro"}`)
	t3 := t1.Add(2 * time.Hour)
	b.now = t3
	res, err = b.svc.Compute(ctx, seg.ID)
	require.NoError(t, err)
	require.Equal(t, Result{Members: 1, Entered: 1, Exited: 1}, *res)
	sa := b.stays(t, seg.ID, a)
	require.Len(t, sa, 1)
	require.NotNil(t, sa[0].exited)
	require.True(t, sa[0].exited.Equal(t3))
	require.Len(t, b.stays(t, seg.ID, c), 1)

	// a re-enters: a new stay; the old one keeps its history; c stays untouched.
	cStay := b.stays(t, seg.ID, c)
	b.setTraits(t, a, `{"plan": "pro"}`)
	t4 := t1.Add(3 * time.Hour)
	b.now = t4
	res, err = b.svc.Compute(ctx, seg.ID)
	require.NoError(t, err)
	require.Equal(t, Result{Members: 2, Entered: 1}, *res)
	sa = b.stays(t, seg.ID, a)
	require.Len(t, sa, 2)
	require.True(t, sa[0].exited.Equal(t3))
	require.True(t, sa[1].entered.Equal(t4))
	require.Nil(t, sa[1].exited)
	require.NotEqual(t, sa[0].id, sa[1].id)
	require.Equal(t, cStay, b.stays(t, seg.ID, c))

	got, err := b.client.Segment.Get(ctx, seg.ID)
	require.NoError(t, err)
	require.Equal(t, 2, got.MemberCount)
	require.Equal(t, "ready", string(got.Status))
	require.True(t, got.LastComputedAt.Equal(t4))

	hist, err := b.svc.History(ctx, seg.ID, 3)
	require.NoError(t, err)
	require.Len(t, hist, 3)
	var in, out int
	for _, d := range hist {
		in += d.Entered
		out += d.Exited
	}
	require.Equal(t, 3, in)
	require.Equal(t, 1, out)
}

func TestComputeMarksFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	seg := b.create(t, "broken", trait("plan", OpEQ, "pro"))
	_, err := b.db.Exec(`UPDATE segments SET rule = '{"trait": {"key": "plan", "op": "LIKE", "value": 1}}' WHERE id = $1`, seg.ID)
	require.NoError(t, err)
	_, err = b.svc.Compute(ctx, seg.ID)
	require.ErrorIs(t, err, ErrInvalidRule)
	got, err := b.client.Segment.Get(ctx, seg.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", string(got.Status))
	require.Contains(t, got.Error, "LIKE")

	// Stored rules that no longer validate, in the shapes the driver estimate inspects before
	// compiling (a top-level count with a row-level conjunct), fail the same way.
	for _, raw := range []string{
		`{"and": [null, {"event": {"name": "x", "count": {"op": "GTE", "value": 2}}}, {"trait": {"key": "plan", "op": "EQ", "value": "pro"}}]}`,
		`{"and": [{"event": {"name": "x", "where": [null], "count": {"op": "GTE", "value": 2}}}, {"trait": {"key": "plan", "op": "EQ", "value": "pro"}}]}`,
		`{"and": [{"event": {"name": "x", "where": [{"key": "k", "op": "CONTAINS", "value": 3}], "count": {"op": "GTE", "value": 2}}}, {"trait": {"key": "plan", "op": "EQ", "value": "pro"}}]}`,
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := b.db.Exec(`UPDATE segments SET rule = $2 WHERE id = $1`, seg.ID, raw)
			require.NoError(t, err)
			_, err = b.svc.Compute(ctx, seg.ID)
			require.ErrorIs(t, err, ErrInvalidRule)
			got, err := b.client.Segment.Get(ctx, seg.ID)
			require.NoError(t, err)
			require.Equal(t, "failed", string(got.Status))
		})
	}

	_, err = b.svc.Compute(ctx, uuid.Must(uuid.NewV7()))
	require.ErrorIs(t, err, ErrNotFound)
}

func TestDrainDirtyCustomers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	x := b.customer(t, `{}`)
	y := b.customer(t, `{}`)
	buyers := b.create(t, "buyers", &Rule{Event: &EventCondition{Name: "Order Completed"}})
	// A segment built on buyers: drained in the same pass, after buyers.
	vip := b.create(t, "vip buyers", &Rule{And: []*Rule{{InSegment: &buyers.ID}, trait("vip", OpEQ, true)}})
	for _, s := range []uuid.UUID{buyers.ID, vip.ID} {
		_, err := b.svc.Compute(ctx, s)
		require.NoError(t, err)
	}
	require.Empty(t, b.stays(t, buyers.ID, x))

	// Ingest stores an order for x and marks x dirty; y is marked too but did nothing.
	b.setTraits(t, x, `{"vip": true}`)
	_, err := b.db.Exec(`INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, customer_id)
		VALUES (gen_random_uuid(), 'track', 'Order Completed', now(), now(), 'm1', $1)`, x)
	require.NoError(t, err)
	_, err = b.db.Exec(`INSERT INTO segment_dirty_customers (customer_id) VALUES ($1), ($2), ($1)`, x, y)
	require.NoError(t, err)

	res, err := b.svc.Drain(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, DrainResult{Marks: 3, Customers: 2, Entered: 2}, *res, "x was queued twice and is evaluated once")
	require.Len(t, b.stays(t, buyers.ID, x), 1)
	require.Len(t, b.stays(t, vip.ID, x), 1)
	require.Empty(t, b.stays(t, buyers.ID, y))
	var dirty int
	require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM segment_dirty_customers`).Scan(&dirty))
	require.Zero(t, dirty)
	got, err := b.client.Segment.Get(ctx, buyers.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.MemberCount)

	// x is merged away: the next drain closes its stays.
	_, err = b.db.Exec(`UPDATE customers SET merged_into_id = $2 WHERE id = $1`, x, y)
	require.NoError(t, err)
	_, err = b.db.Exec(`INSERT INTO segment_dirty_customers (customer_id) VALUES ($1)`, x)
	require.NoError(t, err)
	res, err = b.svc.Drain(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, DrainResult{Marks: 1, Customers: 1, Exited: 2}, *res)
	require.NotNil(t, b.stays(t, buyers.ID, x)[0].exited)

	// Nothing dirty: nothing to do.
	res, err = b.svc.Drain(ctx, 100)
	require.NoError(t, err)
	require.Zero(t, res.Customers)
}

// inTx runs fn in a transaction that is committed when fn succeeds.
func (b *testBundle) inTx(fn func(ctx context.Context, tx *sql.Tx) error) error {
	return txn.Run(context.Background(), b.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error { return fn(ctx, tx) })
}

func TestReferencesAndCycles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	a := b.create(t, "a", trait("x", OpExists, nil))
	bb := b.create(t, "b", &Rule{InSegment: &a.ID})
	c := b.create(t, "c", &Rule{Not: &Rule{InSegment: &bb.ID}})

	update := func(id uuid.UUID, r *Rule) error {
		return b.inTx(func(ctx context.Context, tx *sql.Tx) error {
			_, err := Update(ctx, tx, b.sched, id, UpdateInput{Rule: r})
			return err
		})
	}
	del := func(id uuid.UUID) error {
		return b.inTx(func(ctx context.Context, tx *sql.Tx) error { return Delete(ctx, tx, id) })
	}
	err := update(a.ID, &Rule{Or: []*Rule{trait("x", OpExists, nil), {InSegment: &c.ID}}})
	var re *RuleError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "rule.or[1].inSegment", re.Path)
	require.Contains(t, re.Msg, "cycle")

	err = update(a.ID, &Rule{InSegment: &a.ID})
	require.ErrorAs(t, err, &re)
	require.Contains(t, re.Msg, "itself")

	missing := uuid.Must(uuid.NewV7())
	err = b.inTx(func(ctx context.Context, tx *sql.Tx) error {
		_, err := Create(ctx, tx, b.sched, CreateInput{Name: "d", Rule: &Rule{And: []*Rule{trait("x", OpExists, nil), {InSegment: &missing}}}})
		return err
	})
	require.ErrorAs(t, err, &re)
	require.Equal(t, "rule.and[1].inSegment", re.Path)
	require.Contains(t, re.Msg, "does not exist")

	text, err := RuleText(ctx, b.client, c)
	require.NoError(t, err)
	require.Equal(t, "NOT in segment 'b'", text)

	// a is used by b: it cannot be deleted until b is.
	require.ErrorIs(t, del(a.ID), ErrInUse)
	require.NoError(t, del(c.ID))
	require.NoError(t, del(bb.ID))
	require.NoError(t, del(a.ID))
	require.ErrorIs(t, del(a.ID), ErrNotFound)
	require.Empty(t, b.sched.computes, "failed updates schedule nothing")

	require.NoError(t, update(b.create(t, "e", trait("x", OpExists, nil)).ID, trait("y", OpExists, nil)))
	require.Len(t, b.sched.computes, 1)
}

func TestComputeSchedulesDependents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.customer(t, `{"x": 1}`)
	a := b.create(t, "a", trait("x", OpExists, nil))
	dep := b.create(t, "dep", &Rule{InSegment: &a.ID})
	_, err := b.svc.Compute(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{dep.ID}, b.sched.computes)
	raw, err := json.Marshal(dep.Rule)
	require.NoError(t, err)
	require.JSONEq(t, `{"inSegment":"`+a.ID.String()+`"}`, string(raw))
}
