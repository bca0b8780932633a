package campaign

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	entcampaign "github.com/cairn-cdp/cairn/ent/campaign"
)

func TestCampaignLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	c := b.campaign(t, seg, map[string]string{"FNAME": "trait:first_name"})
	require.Equal(t, entcampaign.StatusDraft, c.Status)

	_, err := Pause(b.ctx, b.client, c.ID)
	require.ErrorIs(t, err, ErrConflict, "a draft cannot be paused")

	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	c, err = SetSchedule(b.ctx, b.client, c.ID, Schedule{Cron: "30 1 * * *", TimeZone: "Europe/London"}, now)
	require.NoError(t, err)
	require.Equal(t, entcampaign.StatusScheduled, c.Status)
	require.Equal(t, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), c.NextRunAt.UTC(), "the gap slot runs at the transition")

	c, err = Pause(b.ctx, b.client, c.ID)
	require.NoError(t, err)
	require.Equal(t, entcampaign.StatusPaused, c.Status)
	c, err = Resume(b.ctx, b.client, c.ID, now.Add(72*time.Hour))
	require.NoError(t, err)
	require.Equal(t, entcampaign.StatusScheduled, c.Status)
	require.Equal(t, time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC), c.NextRunAt.UTC(), "missed slots are not run")

	at := now.Add(time.Hour)
	c, err = SetSchedule(b.ctx, b.client, c.ID, Schedule{At: &at}, now)
	require.NoError(t, err)
	require.Equal(t, entcampaign.ScheduleKindAt, *c.ScheduleKind)
	require.Nil(t, c.ScheduleCron)
	require.Equal(t, at, c.NextRunAt.UTC())

	_, err = Update(b.ctx, b.client, c.ID, UpdateInput{Fields: map[string]string{"1bad": "email"}})
	require.ErrorIs(t, err, ErrInvalidInput)
	_, err = Update(b.ctx, b.client, c.ID, UpdateInput{Fields: map[string]string{"X": "phone"}})
	require.ErrorIs(t, err, ErrInvalidInput)
	missing := uuid.Must(uuid.NewV7())
	_, err = Update(b.ctx, b.client, c.ID, UpdateInput{SegmentID: &missing})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = SetSchedule(b.ctx, b.client, c.ID, Schedule{Cron: "0 9 * * *", TimeZone: "Nowhere/Land"}, now)
	require.ErrorIs(t, err, ErrInvalidInput)
}

func TestDestinationChangeRefusedOnceSynced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	yes := true
	b.join(t, seg, b.customer(t, customerOpts{email: "a@x.io", consent: &yes}))
	c := b.campaign(t, seg, nil)
	other := b.campaign(t, seg, nil).DestinationID
	b.run(t, c)
	_, err := Update(b.ctx, b.client, c.ID, UpdateInput{DestinationID: &other})
	require.ErrorIs(t, err, ErrConflict)
}
