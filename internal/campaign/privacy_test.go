package campaign

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// recordingQueue keeps what Privacy enqueued.
type recordingQueue struct {
	mu       sync.Mutex
	erase    map[uuid.UUID]string
	withdraw []Withdrawal
}

func (q *recordingQueue) EnqueueErase(_ context.Context, _ *sql.Tx, d uuid.UUID, sealed string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.erase[d] = sealed
	return nil
}

func (q *recordingQueue) EnqueueWithdraw(_ context.Context, _ *sql.Tx, w Withdrawal) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.withdraw = append(q.withdraw, w)
	return nil
}

func TestPrivacy(t *testing.T) {
	t.Parallel()
	yes := true
	// world syncs two campaigns (on two destinations) of one segment holding the given emails.
	world := func(t *testing.T, emails ...string) (*bundle, *Privacy, *recordingQueue, []*ent.Campaign, map[string]uuid.UUID) {
		b := setup(t)
		q := &recordingQueue{erase: map[uuid.UUID]string{}}
		p := &Privacy{DB: b.db, Destinations: b.dests, Queue: q}
		seg := b.segment(t)
		ids := map[string]uuid.UUID{}
		for _, e := range emails {
			ids[e] = b.customer(t, customerOpts{email: e, consent: &yes})
			b.join(t, seg, ids[e])
		}
		cs := []*ent.Campaign{b.campaign(t, seg, nil), b.campaign(t, seg, nil)}
		for _, c := range cs {
			_, err := b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual})
			require.NoError(t, err)
		}
		return b, p, q, cs, ids
	}
	inTx := func(t *testing.T, b *bundle, f func(ctx context.Context, tx *sql.Tx) error) {
		require.NoError(t, txn.Run(b.ctx, b.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error { return f(ctx, tx) }))
	}
	rows := func(t *testing.T, b *bundle, q string, args ...any) int {
		var n int
		require.NoError(t, b.db.QueryRow(q, args...).Scan(&n))
		return n
	}

	t.Run("erasure deletes the rows and enqueues one sealed job per destination", func(t *testing.T) {
		t.Parallel()
		b, p, q, cs, ids := world(t, "gone@example.org", "kept@example.org")
		inTx(t, b, func(ctx context.Context, tx *sql.Tx) error {
			return p.EraseEverywhere(ctx, tx, []uuid.UUID{ids["gone@example.org"]}, []string{"gone@example.org", "old.gone@example.org"})
		})
		require.Zero(t, rows(t, b, `SELECT count(*) FROM campaign_members WHERE email = 'gone@example.org'`))
		require.Equal(t, 2, rows(t, b, `SELECT count(*) FROM campaign_members WHERE email = 'kept@example.org'`))
		require.Len(t, q.erase, 2)
		for _, c := range cs {
			sealed, ok := q.erase[c.DestinationID]
			require.True(t, ok)
			require.NotContains(t, sealed, "gone@example.org")
			emails, err := p.openEmails(sealed)
			require.NoError(t, err)
			require.Equal(t, []string{"gone@example.org", "old.gone@example.org"}, emails)
			before := len(b.fake.ledger)
			require.NoError(t, p.Erase(b.ctx, c.DestinationID, sealed, time.Now()))
			require.Equal(t, map[string]int{"remove:gone@example.org": 1, "remove:old.gone@example.org": 1}, b.fake.sent(before))
		}
		_, held := b.fake.snapshot()["gone@example.org"]
		require.False(t, held)
		_, held = b.fake.snapshot()["kept@example.org"]
		require.True(t, held)
	})
	t.Run("nobody held: nothing enqueued", func(t *testing.T) {
		t.Parallel()
		b, p, q, _, _ := world(t, "kept@example.org")
		inTx(t, b, func(ctx context.Context, tx *sql.Tx) error {
			return p.EraseEverywhere(ctx, tx, []uuid.UUID{uuid.Must(uuid.NewV7())}, []string{"never@example.org"})
		})
		require.Empty(t, q.erase)
	})
	t.Run("erasure waits for a sync attempt begun before it", func(t *testing.T) {
		t.Parallel()
		b, p, q, cs, ids := world(t, "gone@example.org")
		inTx(t, b, func(ctx context.Context, tx *sql.Tx) error {
			return p.EraseEverywhere(ctx, tx, []uuid.UUID{ids["gone@example.org"]}, nil)
		})
		var job int64
		require.NoError(t, b.db.QueryRow(`INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at, priority, attempt, attempted_at)
			VALUES ('{}', 'campaign_sync', 5, 'default', 'running', now(), 1, 1, now() - interval '1 minute') RETURNING id`).Scan(&job))
		b.exec(t, `INSERT INTO campaign_syncs (id, campaign_id, started_at, status, job_id) VALUES (gen_random_uuid(), $1, now(), 'running', $2)`, cs[0].ID, job)
		sealed := q.erase[cs[0].DestinationID]
		require.ErrorIs(t, p.Erase(b.ctx, cs[0].DestinationID, sealed, time.Now()), ErrSyncInFlight)
		// An attempt begun after the erasure read an audience without the person.
		require.NoError(t, p.Erase(b.ctx, cs[0].DestinationID, sealed, time.Now().Add(-time.Hour)))
		b.exec(t, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, job)
		require.NoError(t, p.Erase(b.ctx, cs[0].DestinationID, sealed, time.Now()))
	})
	t.Run("a deleted destination is not found", func(t *testing.T) {
		t.Parallel()
		b, p, _, _, _ := world(t)
		sealed, err := p.sealEmails([]string{"x@example.org"})
		require.NoError(t, err)
		require.ErrorIs(t, p.Erase(b.ctx, uuid.Must(uuid.NewV7()), sealed, time.Now()), ErrNotFound)
		require.ErrorIs(t, p.Withdraw(b.ctx, Withdrawal{DestinationID: uuid.Must(uuid.NewV7())}), ErrNotFound)
	})
	t.Run("withdrawal removes per destination and marks the rows removed", func(t *testing.T) {
		t.Parallel()
		b, p, q, cs, ids := world(t, "out@example.org", "kept@example.org")
		out := ids["out@example.org"]
		b.consent(t, out, false)
		inTx(t, b, func(ctx context.Context, tx *sql.Tx) error { return p.WithdrawEverywhere(ctx, tx, out) })
		require.Len(t, q.withdraw, 2)
		for _, w := range q.withdraw {
			require.Equal(t, []uuid.UUID{out}, w.Profiles)
			before := len(b.fake.ledger)
			require.NoError(t, p.Withdraw(b.ctx, w))
			require.Equal(t, map[string]int{"remove:out@example.org": 1}, b.fake.sent(before))
		}
		require.Equal(t, 2, rows(t, b, `SELECT count(*) FROM campaign_members WHERE customer_id = $1 AND state = 'removed'`, out))
		before := len(b.fake.ledger)
		for _, c := range cs {
			_, err := b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual})
			require.NoError(t, err)
		}
		require.Empty(t, b.fake.sent(before), "the next syncs have nothing to send")
	})
	t.Run("a grant after the withdrawal makes its job send nothing", func(t *testing.T) {
		t.Parallel()
		b, p, q, _, ids := world(t, "back@example.org")
		id := ids["back@example.org"]
		b.consent(t, id, false)
		inTx(t, b, func(ctx context.Context, tx *sql.Tx) error { return p.WithdrawEverywhere(ctx, tx, id) })
		b.consent(t, id, true)
		before := len(b.fake.ledger)
		for _, w := range q.withdraw {
			require.NoError(t, p.Withdraw(b.ctx, w))
		}
		require.Empty(t, b.fake.sent(before))
		require.Zero(t, rows(t, b, `SELECT count(*) FROM campaign_members WHERE customer_id = $1 AND state = 'removed'`, id))
	})
	t.Run("export lists the person's snapshot rows", func(t *testing.T) {
		t.Parallel()
		b, p, _, _, ids := world(t, "me@example.org", "other@example.org")
		var got any
		inTx(t, b, func(ctx context.Context, tx *sql.Tx) error {
			var err error
			got, err = p.ExportPerson(ctx, tx, []uuid.UUID{ids["me@example.org"]}, []string{"me@example.org"})
			return err
		})
		recs := got.([]CampaignRecord)
		require.Len(t, recs, 2)
		for _, r := range recs {
			require.Equal(t, "me@example.org", r.Email)
			require.Equal(t, "synced", r.State)
			require.Equal(t, "mailchimp", r.DestinationKind)
			require.NotNil(t, r.LastSyncedAt)
			require.False(t, strings.Contains(r.LastError, "@"))
		}
	})
}
