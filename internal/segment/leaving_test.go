package segment

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// A customer whose email_marketing consent is withdrawn (or whose email changes) stays a
// member, but the drain that picks up their mark schedules a delta sync of every scheduled
// campaign whose destination holds them.
func TestDrainSchedulesCampaignsOfWithdrawnCustomers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	seg := b.create(t, "all", trait("x", OpEQ, true))
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := b.db.Exec(q, args...)
		require.NoError(t, err)
	}
	consent := func(cust uuid.UUID, granted bool) {
		exec(`INSERT INTO consents (id, customer_id, purpose, granted, recorded_at) VALUES ($1, $2, 'email_marketing', $3, clock_timestamp())`,
			uuid.Must(uuid.NewV7()), cust, granted)
	}
	dest := uuid.Must(uuid.NewV7())
	exec(`INSERT INTO destinations (id, created_at, updated_at, kind, name, config) VALUES ($1, now(), now(), 'webhook', 'd', '{}')`, dest)
	campaign := func(status string) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		exec(`INSERT INTO campaigns (id, created_at, updated_at, name, status, destination_id, segment_id) VALUES ($1, now(), now(), 'c', $2, $3, $4)`,
			id, status, dest, seg.ID)
		return id
	}
	hold := func(campaignID, cust uuid.UUID, email string) {
		exec(`INSERT INTO campaign_members (id, campaign_id, customer_id, email, payload_hash, state, updated_at) VALUES ($1, $2, $3, $4, 'h', 'synced', now())`,
			uuid.Must(uuid.NewV7()), campaignID, cust, email)
	}
	customer := func(email string) uuid.UUID {
		id := b.customer(t, `{"x": true}`)
		exec(`UPDATE customers SET email = $2 WHERE id = $1`, id, email)
		consent(id, true)
		return id
	}
	stays, withdraws, moves := customer("s@x.io"), customer("w@x.io"), customer("m@x.io")
	scheduled, paused := campaign("scheduled"), campaign("paused")
	for _, c := range []uuid.UUID{scheduled, paused} {
		hold(c, stays, "s@x.io")
		hold(c, withdraws, "w@x.io")
	}
	moved := campaign("scheduled")
	hold(moved, moves, "m@x.io")
	_, err := b.svc.Compute(ctx, seg.ID)
	require.NoError(t, err)
	b.sched.syncs = nil

	drain := func() []uuid.UUID {
		t.Helper()
		b.sched.syncs = nil
		_, err := b.svc.Drain(ctx, 100)
		require.NoError(t, err)
		return b.sched.syncs
	}
	exec(`INSERT INTO segment_dirty_customers (customer_id) VALUES ($1)`, stays)
	require.Empty(t, drain(), "a customer still in the audience schedules nothing")

	consent(withdraws, false)
	exec(`INSERT INTO segment_dirty_customers (customer_id) VALUES ($1), ($2)`, withdraws, stays)
	require.Equal(t, []uuid.UUID{scheduled}, drain(), "the paused campaign waits for its next run")

	exec(`UPDATE customers SET email = 'm2@x.io' WHERE id = $1`, moves)
	exec(`INSERT INTO segment_dirty_customers (customer_id) VALUES ($1)`, moves)
	require.Equal(t, []uuid.UUID{moved}, drain())
}
