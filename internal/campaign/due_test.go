package campaign

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	entcampaign "github.com/cairn-cdp/cairn/ent/campaign"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func (b *bundle) takeDue(t *testing.T, now time.Time) []Slot {
	t.Helper()
	var slots []Slot
	require.NoError(t, txn.Run(b.ctx, b.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		var err error
		slots, err = TakeDue(ctx, tx, now, 100)
		return err
	}))
	return slots
}

func TestTakeDueAdvancesSchedules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	now := time.Date(2026, 10, 24, 23, 0, 0, 0, time.UTC)
	once := b.campaign(t, seg, nil)
	daily := b.campaign(t, seg, nil)
	paused := b.campaign(t, seg, nil)
	at := now.Add(30 * time.Minute)
	_, err := SetSchedule(b.ctx, b.client, once.ID, Schedule{At: &at}, now)
	require.NoError(t, err)
	_, err = SetSchedule(b.ctx, b.client, daily.ID, Schedule{Cron: "30 1 * * *", TimeZone: "Europe/London"}, now)
	require.NoError(t, err)
	_, err = SetSchedule(b.ctx, b.client, paused.ID, Schedule{At: &at}, now)
	require.NoError(t, err)
	_, err = Pause(b.ctx, b.client, paused.ID)
	require.NoError(t, err)

	require.Empty(t, b.takeDue(t, now))
	// 01:30 BST on the fall-back day is 00:30 UTC.
	later := time.Date(2026, 10, 25, 0, 45, 0, 0, time.UTC)
	slots := b.takeDue(t, later)
	require.ElementsMatch(t, []Slot{{CampaignID: once.ID, At: at}, {CampaignID: daily.ID, At: time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)}},
		normalise(slots))
	// Handed out once: the repeated 01:30 (GMT, 01:30 UTC) does not run again.
	require.Empty(t, b.takeDue(t, time.Date(2026, 10, 25, 1, 45, 0, 0, time.UTC)))
	d, err := b.client.Campaign.Get(b.ctx, daily.ID)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 10, 26, 1, 30, 0, 0, time.UTC), d.NextRunAt.UTC())
	o, err := b.client.Campaign.Get(b.ctx, once.ID)
	require.NoError(t, err)
	require.Nil(t, o.NextRunAt)

	// Paused after its slot was handed out, the one-off's run is skipped; resuming makes it due
	// again.
	_, err = Pause(b.ctx, b.client, once.ID)
	require.NoError(t, err)
	_, err = b.syncer.Run(b.ctx, once.ID, RunOptions{Trigger: TriggerSchedule, Slot: &at})
	require.ErrorIs(t, err, ErrSkipped)
	_, err = Resume(b.ctx, b.client, once.ID, later)
	require.NoError(t, err)
	require.Equal(t, []Slot{{CampaignID: once.ID, At: at}}, normalise(b.takeDue(t, later)))

	// The one-off campaign's scheduled run completes it.
	_, err = b.syncer.Run(b.ctx, once.ID, RunOptions{Trigger: TriggerSchedule, Slot: &at})
	require.NoError(t, err)
	o, err = b.client.Campaign.Get(b.ctx, once.ID)
	require.NoError(t, err)
	require.Equal(t, entcampaign.StatusCompleted, o.Status)
}

func normalise(slots []Slot) []Slot {
	out := make([]Slot, len(slots))
	for i, s := range slots {
		out[i] = Slot{CampaignID: s.CampaignID, At: s.At.UTC()}
	}
	return out
}
