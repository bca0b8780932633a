package segment

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	rfmscore "github.com/cairn-cdp/cairn/internal/rfm"
)

// TestDrainFollowsRFM checks that a segment with an rfm condition follows ComputeRFM through the
// incremental drain: ComputeRFM queues the customers whose RFM it rewrote.
func TestDrainFollowsRFM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	x := b.customer(t, `{}`)
	y := b.customer(t, `{}`)
	_, err := b.db.Exec(`INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, customer_id, revenue)
		VALUES (gen_random_uuid(), 'track', 'Order Completed', $2, $2, 'm1', $1, 10)`, x, b.now.Add(-10*24*time.Hour))
	require.NoError(t, err)
	one := 1
	scored := b.create(t, "scored", &Rule{RFM: &RFMCondition{RecencyScore: &IntRange{Min: &one}}})
	_, err = b.svc.Compute(ctx, scored.ID)
	require.NoError(t, err)
	require.Empty(t, b.stays(t, scored.ID, x))

	// x gets RFM: queued, and the drain lets it in.
	res, err := rfmscore.New(b.db).Compute(ctx, &rfmscore.ComputeOpts{Now: b.now})
	require.NoError(t, err)
	require.Equal(t, 1, res.Updated)
	dr, err := b.svc.Drain(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, DrainResult{Marks: 1, Customers: 1, Entered: 1}, *dr)
	require.Len(t, b.stays(t, scored.ID, x), 1)
	require.Empty(t, b.stays(t, scored.ID, y))

	// A year later x's order left the window: RFM cleared, queued, and the drain lets it out.
	res, err = rfmscore.New(b.db).Compute(ctx, &rfmscore.ComputeOpts{Now: b.now.Add(400 * 24 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Cleared)
	dr, err = b.svc.Drain(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, DrainResult{Marks: 1, Customers: 1, Exited: 1}, *dr)
	require.NotNil(t, b.stays(t, scored.ID, x)[0].exited)
}
