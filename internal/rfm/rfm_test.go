package rfm_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/internal/rfm"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

const day = 24 * time.Hour

type testBundle struct {
	ctx    context.Context
	db     *sql.DB
	client *ent.Client
	scorer *rfm.Scorer
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	db := testdb.New(t)
	return &testBundle{ctx: t.Context(), db: db, client: txn.NewClient(db), scorer: rfm.New(db)}
}

// A fixture customer and its orders; the reference implementation reads these, the SQL reads
// the rows made from them.
type fixtureCustomer struct {
	id     uuid.UUID
	merged bool
	orders []fixtureOrder
}

type fixtureOrder struct {
	at      time.Time
	revenue *int64 // in ten-thousandths (numeric(18,4) exactly); nil = NULL revenue
}

// expected is one customer's RFM per the reference implementation.
type expected struct {
	recency, frequency int
	monetary           int64 // ten-thousandths
	r, f, m            int
	score, label       string
}

// reference computes RFM the straightforward way: filter, aggregate, sort, rank with ties.
func reference(customers []*fixtureCustomer, now time.Time, window time.Duration) map[uuid.UUID]expected {
	since := now.Add(-window)
	type agg struct {
		id        uuid.UUID
		recency   int
		frequency int
		monetary  int64
	}
	var aggs []agg
	for _, c := range customers {
		if c.merged {
			continue
		}
		var last time.Time
		var n int
		var sum int64
		for _, o := range c.orders {
			if !o.at.After(since) || o.at.After(now) {
				continue
			}
			n++
			if o.at.After(last) {
				last = o.at
			}
			if o.revenue != nil {
				sum += *o.revenue
			}
		}
		if n > 0 {
			aggs = append(aggs, agg{id: c.id, recency: int(now.Sub(last) / day), frequency: n, monetary: sum})
		}
	}
	// Worst first: recency most days first; frequency and monetary smallest first.
	rRank := ranks(aggs, func(a, b agg) int { return cmp.Compare(b.recency, a.recency) })
	fRank := ranks(aggs, func(a, b agg) int { return cmp.Compare(a.frequency, b.frequency) })
	mRank := ranks(aggs, func(a, b agg) int { return cmp.Compare(a.monetary, b.monetary) })
	n := len(aggs)
	score := func(rank int) int { return 1 + 5*(rank-1)/n }
	out := make(map[uuid.UUID]expected, n)
	for i, a := range aggs {
		r, f, m := score(rRank[i]), score(fRank[i]), score(mRank[i])
		out[a.id] = expected{
			recency: a.recency, frequency: a.frequency, monetary: a.monetary,
			r: r, f: f, m: m, score: fmt.Sprintf("%d%d%d", r, f, m), label: rfm.Label(r, f, m),
		}
	}
	return out
}

// ranks returns RANK() of each element under compare: 1 + the number of elements strictly
// before it, so equal elements share the rank of the first of their run.
func ranks[T any](xs []T, compare func(a, b T) int) []int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return compare(xs[i], xs[j]) })
	out := make([]int, len(xs))
	for pos, i := range idx {
		if pos > 0 && compare(xs[idx[pos-1]], xs[i]) == 0 {
			out[i] = out[idx[pos-1]]
		} else {
			out[i] = pos + 1
		}
	}
	return out
}

// generate makes n random customers around now: a quarter without orders, the rest with 1..~20
// orders at random times inside and outside the window (some in the future, some exactly on the
// window's edges), with revenue amounts drawn so that sums tie, some NULL and some negative
// (refunds). Every customer also gets non-order events (with revenue) that must not count.
func generate(rng *rand.Rand, n int, now time.Time, window time.Duration) []*fixtureCustomer {
	amounts := []int64{0, 10_000, 99_900, 250_000, 1_234_567}
	out := make([]*fixtureCustomer, n)
	for i := range out {
		c := &fixtureCustomer{id: uuid.Must(uuid.NewV7())}
		out[i] = c
		if rng.IntN(4) == 0 {
			continue
		}
		k := 1 + rng.IntN(3)
		if rng.IntN(5) == 0 {
			k += rng.IntN(18)
		}
		for range k {
			var at time.Time
			switch p := rng.IntN(100); {
			case p == 0:
				at = now.Add(-window) // on the window's open edge: excluded
			case p == 1:
				at = now // on the closed edge: included
			case p == 2:
				at = now.Add(-window + time.Microsecond)
			case p < 6:
				at = now.Add(time.Duration(1+rng.IntN(3*24*3600)) * time.Second) // future: excluded
			default:
				at = now.Add(-time.Duration(rng.Int64N(int64(2 * window))))
			}
			o := fixtureOrder{at: at.Truncate(time.Microsecond)}
			switch p := rng.IntN(100); {
			case p < 10: // NULL revenue
			case p < 55:
				v := amounts[rng.IntN(len(amounts))]
				o.revenue = &v
			case p < 58:
				v := -rng.Int64N(1_000_000)
				o.revenue = &v
			default:
				v := rng.Int64N(5_000_000)
				o.revenue = &v
			}
			c.orders = append(c.orders, o)
		}
	}
	return out
}

// insert writes the customers and, as interactions, their orders plus noise events.
func (b *testBundle) insert(t testing.TB, rng *rand.Rand, customers []*fixtureCustomer) {
	t.Helper()
	for chunk := range slices.Chunk(customers, 1000) {
		builders := make([]*ent.CustomerCreate, len(chunk))
		for i, c := range chunk {
			builders[i] = b.client.Customer.Create().SetID(c.id)
		}
		require.NoError(t, b.client.Customer.CreateBulk(builders...).Exec(b.ctx))
	}
	var rows []*ent.InteractionCreate
	add := func(c *fixtureCustomer, event string, at time.Time, revenue *int64) {
		ic := b.client.Interaction.Create().SetKind(interaction.KindTrack).SetEvent(event).
			SetOccurredAt(at).SetReceivedAt(at).SetMessageID(uuid.NewString()).SetCustomerID(c.id)
		if revenue != nil {
			ic.SetRevenue(float64(*revenue) / 10_000)
		}
		rows = append(rows, ic)
	}
	for _, c := range customers {
		for _, o := range c.orders {
			add(c, "Order Completed", o.at, o.revenue)
		}
		if rng.IntN(3) == 0 {
			rev := int64(500_000)
			last := time.Now()
			if len(c.orders) > 0 {
				last = c.orders[0].at
			}
			add(c, "Product Added", last, &rev)
			add(c, "order completed", last, &rev) // event names are exact
		}
	}
	for chunk := range slices.Chunk(rows, 1000) {
		require.NoError(t, b.client.Interaction.CreateBulk(chunk...).Exec(b.ctx))
	}
}

// merge marks c merged into the survivor (its interactions stay, as the worst case: a real
// merge moves them).
func (b *testBundle) merge(t *testing.T, c, into *fixtureCustomer) {
	t.Helper()
	_, err := b.db.ExecContext(b.ctx, `UPDATE customers SET merged_into_id = $1, merged_at = now() WHERE id = $2`, into.id, c.id)
	require.NoError(t, err)
	c.merged = true
}

type stored struct {
	recency, frequency, r, f, m sql.NullInt64
	monetary, score, label      sql.NullString
	computedAt                  sql.NullTime
}

func (b *testBundle) load(t *testing.T) map[uuid.UUID]stored {
	t.Helper()
	rows, err := b.db.QueryContext(b.ctx, `SELECT id, rfm_recency, rfm_frequency, rfm_monetary::text, rfm_recency_score,
		rfm_frequency_score, rfm_monetary_score, rfm_score, rfm_label, rfm_computed_at FROM customers`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[uuid.UUID]stored{}
	for rows.Next() {
		var id uuid.UUID
		var s stored
		require.NoError(t, rows.Scan(&id, &s.recency, &s.frequency, &s.monetary, &s.r, &s.f, &s.m, &s.score, &s.label, &s.computedAt))
		out[id] = s
	}
	require.NoError(t, rows.Err())
	return out
}

// requireMatches checks every customer's stored RFM against want; computedAt says which
// computation's now each scored customer's rfm_computed_at must hold.
func requireMatches(t *testing.T, got map[uuid.UUID]stored, customers []*fixtureCustomer, want map[uuid.UUID]expected, computedAt func(uuid.UUID) time.Time) {
	t.Helper()
	require.Len(t, got, len(customers))
	for _, c := range customers {
		g, e := got[c.id], want[c.id]
		if _, ok := want[c.id]; !ok {
			require.Equal(t, stored{}, g, "customer %s (merged %v, %d orders) must have no RFM", c.id, c.merged, len(c.orders))
			continue
		}
		msg := fmt.Sprintf("customer %s: %+v", c.id, e)
		require.Equal(t, int64(e.recency), g.recency.Int64, msg)
		require.Equal(t, int64(e.frequency), g.frequency.Int64, msg)
		require.True(t, g.monetary.Valid, msg)
		m, ok := new(big.Rat).SetString(g.monetary.String)
		require.True(t, ok, msg)
		require.Zero(t, m.Cmp(big.NewRat(e.monetary, 10_000)), "%s: monetary %s", msg, g.monetary.String)
		require.Equal(t, []int64{int64(e.r), int64(e.f), int64(e.m)}, []int64{g.r.Int64, g.f.Int64, g.m.Int64}, msg)
		require.Equal(t, e.score, g.score.String, msg)
		require.Equal(t, e.label, g.label.String, msg)
		require.True(t, g.computedAt.Valid, msg)
		require.True(t, computedAt(c.id).Equal(g.computedAt.Time), "%s: computed at %s", msg, g.computedAt.Time)
	}
}

func TestComputeMatchesReference(t *testing.T) {
	t.Parallel()
	b := setup(t)

	seed1, seed2 := rand.Uint64(), rand.Uint64()
	t.Logf("seed %d %d", seed1, seed2)
	rng := rand.New(rand.NewPCG(seed1, seed2))

	now1 := time.Date(2026, 6, 15, 12, 34, 56, 789_012_000, time.UTC)
	customers := generate(rng, 3000, now1, rfm.DefaultWindow)
	b.insert(t, rng, customers)
	// A few profiles were merged away before any computation.
	for i := 0; i < 60; i++ {
		b.merge(t, customers[i], customers[len(customers)-1-i])
	}

	// First computation, in many small batches.
	want1 := reference(customers, now1, rfm.DefaultWindow)
	require.Greater(t, len(want1), 1500)
	res, err := b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now1, BatchSize: 97})
	require.NoError(t, err)
	require.Equal(t, len(want1), res.Scored)
	require.Equal(t, len(want1), res.Updated)
	require.Zero(t, res.Cleared)
	require.Equal(t, len(want1)/97+1, res.Batches)
	requireMatches(t, b.load(t), customers, want1, func(uuid.UUID) time.Time { return now1 })
	b.requireSummary(t, want1, now1)

	// Nothing changed: nothing is written.
	res, err = b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now1})
	require.NoError(t, err)
	require.Equal(t, len(want1), res.Scored)
	require.Zero(t, res.Updated)
	require.Zero(t, res.Batches)
	requireMatches(t, b.load(t), customers, want1, func(uuid.UUID) time.Time { return now1 })

	// 40 days later: some customers' last orders left the window and they lose their RFM; a
	// scored customer is merged away and loses it too; unchanged customers keep their
	// rfm_computed_at.
	var mergedScored *fixtureCustomer
	for _, c := range customers[100:] {
		if _, ok := want1[c.id]; ok && !c.merged {
			mergedScored = c
			break
		}
	}
	require.NotNil(t, mergedScored)
	b.merge(t, mergedScored, customers[99])
	now2 := now1.Add(40 * day)
	want2 := reference(customers, now2, rfm.DefaultWindow)
	var lost, unchanged int
	for id, e1 := range want1 {
		e2, ok := want2[id]
		switch {
		case !ok:
			lost++
		case e1 == e2:
			unchanged++
		}
	}
	require.Positive(t, lost)
	res, err = b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now2, BatchSize: 500})
	require.NoError(t, err)
	require.Equal(t, len(want2), res.Scored)
	require.Equal(t, lost, res.Cleared)
	require.Equal(t, len(want2)+lost-unchanged, res.Updated)
	requireMatches(t, b.load(t), customers, want2, func(id uuid.UUID) time.Time {
		if e1, ok := want1[id]; ok && e1 == want2[id] {
			return now1
		}
		return now2
	})
	b.requireSummary(t, want2, now2)

	// A 30-day window.
	want3 := reference(customers, now2, 30*day)
	res, err = b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now2, Window: 30 * day})
	require.NoError(t, err)
	require.Equal(t, len(want3), res.Scored)
	got := b.load(t)
	requireMatches(t, got, customers, want3, func(id uuid.UUID) time.Time {
		return got[id].computedAt.Time // checked above; the window is what this step tests
	})
}

// requireSummary checks the grid and label counts against the reference.
func (b *testBundle) requireSummary(t *testing.T, want map[uuid.UUID]expected, computedAt time.Time) {
	t.Helper()
	sum, err := b.scorer.Summary(b.ctx)
	require.NoError(t, err)
	var grid [5][5]int
	labels := map[string]int{}
	for _, e := range want {
		grid[e.r-1][e.f-1]++
		labels[e.label]++
	}
	require.Len(t, sum.Grid, 25)
	for i, c := range sum.Grid {
		require.Equal(t, 1+i/5, c.RecencyScore)
		require.Equal(t, 1+i%5, c.FrequencyScore)
		require.Equal(t, grid[c.RecencyScore-1][c.FrequencyScore-1], c.Count, "cell R%d F%d", c.RecencyScore, c.FrequencyScore)
	}
	require.Len(t, sum.Labels, len(rfm.Labels))
	for i, lc := range sum.Labels {
		require.Equal(t, rfm.Labels[i], lc.Label)
		require.Equal(t, labels[lc.Label], lc.Count, lc.Label)
	}
	require.Equal(t, len(want), sum.Scored)
	require.NotNil(t, sum.ComputedAt)
	require.True(t, computedAt.Equal(*sum.ComputedAt))
}

func TestComputeTiesAndEdges(t *testing.T) {
	t.Parallel()
	b := setup(t)

	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	rev := func(v int64) *int64 { return &v }
	// Five customers with identical orders share every rank, so every score is 1
	// (1 + floor(5 * 0 / 5)) and the label is Lost; a sixth with more of everything tops them.
	same := func() *fixtureCustomer {
		return &fixtureCustomer{id: uuid.Must(uuid.NewV7()), orders: []fixtureOrder{{at: now.Add(-10 * day), revenue: rev(100_000)}}}
	}
	customers := []*fixtureCustomer{same(), same(), same(), same(), same(), {
		id: uuid.Must(uuid.NewV7()),
		orders: []fixtureOrder{
			{at: now.Add(-time.Hour), revenue: nil},
			{at: now.Add(-2 * day), revenue: rev(300_000)},
		},
	}, {
		// Only orders outside the window, or exactly on its open edge: no RFM.
		id:     uuid.Must(uuid.NewV7()),
		orders: []fixtureOrder{{at: now.Add(-rfm.DefaultWindow), revenue: rev(1)}, {at: now.Add(time.Second), revenue: rev(1)}},
	}, {id: uuid.Must(uuid.NewV7())}}
	b.insert(t, rand.New(rand.NewPCG(1, 2)), customers)

	res, err := b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now})
	require.NoError(t, err)
	require.Equal(t, 6, res.Scored)

	want := reference(customers, now, rfm.DefaultWindow)
	requireMatches(t, b.load(t), customers, want, func(uuid.UUID) time.Time { return now })
	for _, c := range customers[:5] {
		require.Equal(t, expected{recency: 10, frequency: 1, monetary: 100_000, r: 1, f: 1, m: 1, score: "111", label: rfm.LabelLost}, want[c.id])
	}
	// rank 6 of 6: 1 + floor(5*5/6) = 5.
	require.Equal(t, expected{recency: 0, frequency: 2, monetary: 300_000, r: 5, f: 5, m: 5, score: "555", label: rfm.LabelChampions}, want[customers[5].id])

	// The resolver's view of a stored customer.
	c, err := b.client.Customer.Get(b.ctx, customers[5].id)
	require.NoError(t, err)
	v := rfm.FromCustomer(c)
	require.NotNil(t, v)
	require.Equal(t, rfm.Values{
		Recency: 0, Frequency: 2, Monetary: 30, RecencyScore: 5, FrequencyScore: 5, MonetaryScore: 5,
		Score: "555", Label: rfm.LabelChampions, ComputedAt: v.ComputedAt,
	}, *v)
	require.True(t, now.Equal(v.ComputedAt))
	c, err = b.client.Customer.Get(b.ctx, customers[6].id)
	require.NoError(t, err)
	require.Nil(t, rfm.FromCustomer(c))
}

func TestComputeEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t)

	b.insert(t, rand.New(rand.NewPCG(3, 4)), []*fixtureCustomer{{id: uuid.Must(uuid.NewV7())}})
	res, err := b.scorer.Compute(b.ctx, nil)
	require.NoError(t, err)
	require.Zero(t, res.Scored)
	require.Zero(t, res.Updated)
	require.Equal(t, rfm.DefaultWindow, res.Window)

	sum, err := b.scorer.Summary(b.ctx)
	require.NoError(t, err)
	require.Len(t, sum.Grid, 25)
	for _, c := range sum.Grid {
		require.Zero(t, c.Count)
	}
	require.Len(t, sum.Labels, 11)
	require.Nil(t, sum.ComputedAt)
	require.Zero(t, sum.Scored)
}

func TestComputeInvalidOptions(t *testing.T) {
	t.Parallel()

	// Validation happens before the database is touched.
	s := rfm.New(nil)
	_, err := s.Compute(t.Context(), &rfm.ComputeOpts{Window: -day})
	require.ErrorIs(t, err, rfm.ErrInvalidInput)
	_, err = s.Compute(t.Context(), &rfm.ComputeOpts{BatchSize: -1})
	require.ErrorIs(t, err, rfm.ErrInvalidInput)
}

// TestComputeConcurrent runs computations at once: the advisory lock serialises them, each has
// its own temp table, and the result is the same as one run.
func TestComputeConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)

	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	customers := generate(rng, 300, now, rfm.DefaultWindow)
	b.insert(t, rng, customers)

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now, BatchSize: 50})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	requireMatches(t, b.load(t), customers, reference(customers, now, rfm.DefaultWindow), func(uuid.UUID) time.Time { return now })

	// The sessions were ended: no lock is left behind (a backend exits just after its client
	// closes the connection, hence Eventually).
	require.Eventually(t, func() bool {
		var locks int
		require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE l.locktype = 'advisory' AND d.datname = current_database()`).Scan(&locks))
		return locks == 0
	}, 10*time.Second, 20*time.Millisecond)
}

func TestComputeCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)

	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	_, err := b.scorer.Compute(ctx, &rfm.ComputeOpts{})
	require.ErrorIs(t, err, context.Canceled)

	// A later computation still works (no stale lock or temp table).
	_, err = b.scorer.Compute(b.ctx, nil)
	require.NoError(t, err)
}
