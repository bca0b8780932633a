package rfm_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/rfm"
)

// TestComputeMarksSegmentDirty checks that the customers a computation writes are queued for
// incremental segment re-evaluation, in the write batches, only while a segment's rule uses rfm.
func TestComputeMarksSegmentDirty(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rng := rand.New(rand.NewPCG(7, 11))
	now1 := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	customers := generate(rng, 400, now1, rfm.DefaultWindow)
	b.insert(t, rng, customers)

	dirty := func() map[uuid.UUID]bool {
		t.Helper()
		ids, err := b.db.QueryContext(b.ctx, `SELECT customer_id FROM segment_dirty_customers`)
		require.NoError(t, err)
		defer ids.Close()
		out := map[uuid.UUID]bool{}
		for ids.Next() {
			var id uuid.UUID
			require.NoError(t, ids.Scan(&id))
			out[id] = true
		}
		require.NoError(t, ids.Err())
		return out
	}

	// No segment uses rfm (one uses a trait): nothing is queued.
	_, err := b.client.Segment.Create().SetName("plain").
		SetRule(map[string]any{"trait": map[string]any{"key": "rfm", "op": "EXISTS"}}).Save(b.ctx)
	require.NoError(t, err)
	res, err := b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now1})
	require.NoError(t, err)
	require.Positive(t, res.Updated)
	require.Empty(t, dirty())

	// A segment with an rfm condition (nested): a computation 40 days later queues exactly the
	// customers whose RFM it wrote, in several batches; one already queued stays queued.
	_, err = b.client.Segment.Create().SetName("at risk").
		SetRule(map[string]any{"and": []any{map[string]any{"not": map[string]any{"rfm": map[string]any{"label": "At Risk"}}}}}).Save(b.ctx)
	require.NoError(t, err)
	before := b.load(t)
	_, err = b.db.ExecContext(b.ctx, `INSERT INTO segment_dirty_customers (customer_id) VALUES ($1)`, customers[0].id)
	require.NoError(t, err)

	res, err = b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now1.Add(40 * day), BatchSize: 50})
	require.NoError(t, err)
	require.Greater(t, res.Batches, 1)
	after := b.load(t)
	want := map[uuid.UUID]bool{customers[0].id: true}
	changed := 0
	for id, s := range after {
		if s != before[id] {
			want[id] = true
			changed++
		}
	}
	require.Equal(t, res.Updated, changed)
	require.Positive(t, changed)
	require.Equal(t, want, dirty())

	// Nothing changes: nothing more is queued.
	_, err = b.db.ExecContext(b.ctx, `DELETE FROM segment_dirty_customers`)
	require.NoError(t, err)
	res, err = b.scorer.Compute(b.ctx, &rfm.ComputeOpts{Now: now1.Add(40 * day)})
	require.NoError(t, err)
	require.Zero(t, res.Updated)
	require.Empty(t, dirty())
}
