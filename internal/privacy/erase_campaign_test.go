package privacy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/segment"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// campaignFixture is a campaign on the segment "all" syncing to a fake Mailchimp through the
// real campaign engine, which also receives the bundle's erasures.
type campaignFixture struct {
	fake     *providertest.Mailchimp
	dests    *campaign.Destinations
	privacy  *campaign.Privacy
	queue    *eraseQueue
	campaign *ent.Campaign
	db       *testBundle
}

// syncedCampaign wires the campaign engine into b's destinations; the segment "all" must exist.
func syncedCampaign(t *testing.T, b *testBundle) *campaignFixture {
	t.Helper()
	ctx := context.Background()
	f := &campaignFixture{fake: providertest.NewMailchimp(t, nil), queue: &eraseQueue{}, db: b}
	f.dests = &campaign.Destinations{Sealer: b.box, Open: func(kind string, cfg map[string]any) (provider.Destination, error) {
		str := func(k string) string { s, _ := cfg[k].(string); return s }
		return provider.New(provider.Config{Kind: kind, BaseURL: str("base_url"), APIKey: str("api_key"),
			ListID: str("list_id"), AudienceName: "Cairn audience"}, provider.Options{AllowPrivate: true})
	}}
	f.privacy = &campaign.Privacy{DB: b.db, Destinations: f.dests, Queue: f.queue}
	b.dest.campaigns = f.privacy
	client := txn.NewClient(b.db)
	dst, err := f.dests.Create(ctx, client, campaign.DestinationInput{Kind: "mailchimp", Name: "mc",
		Config: map[string]any{"api_key": f.fake.APIKey, "list_id": f.fake.ListID, "base_url": f.fake.URL}})
	require.NoError(t, err)
	seg, err := client.Segment.Query().Where(segment.Name("all")).Only(ctx)
	require.NoError(t, err)
	f.campaign, err = campaign.Create(ctx, client, campaign.CreateInput{Name: "all", SegmentID: seg.ID, DestinationID: dst.ID,
		Fields: map[string]string{"FNAME": "trait:name"}})
	require.NoError(t, err)
	return f
}

// sync runs one manual sync of the campaign.
func (f *campaignFixture) sync(t *testing.T) {
	t.Helper()
	s := &campaign.Syncer{DB: f.db.db, Destinations: f.dests}
	run, err := s.Run(context.Background(), f.campaign.ID, campaign.RunOptions{Trigger: campaign.TriggerManual})
	require.NoError(t, err)
	require.Zero(t, run.Failed)
}

// runErasures runs the erase jobs the campaign engine enqueued, as jobs/ does on River.
func (f *campaignFixture) runErasures(t *testing.T) {
	t.Helper()
	f.queue.mu.Lock()
	defer f.queue.mu.Unlock()
	require.NotEmpty(t, f.queue.erase)
	for _, e := range f.queue.erase {
		require.NoError(t, f.privacy.Erase(context.Background(), e.destination, e.sealed, time.Now()))
	}
}
