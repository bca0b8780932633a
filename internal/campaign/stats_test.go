package campaign

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/secret"
)

// event seeds one interaction of the customer at t.
func (b *bundle) event(t *testing.T, cust uuid.UUID, event, props string, at time.Time, revenue *float64) {
	t.Helper()
	b.exec(t, `INSERT INTO interactions (id, kind, event, properties, occurred_at, received_at, message_id, revenue, channel, customer_id)
		VALUES ($1, 'track', $2, $3, $4, $4, $5, $6, 'email', $7)`,
		uuid.Must(uuid.NewV7()), event, props, at, uuid.NewString(), revenue, cust)
}

func TestCampaignStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	yes, no := true, false
	seg := b.segment(t)
	var people []uuid.UUID
	for _, e := range []string{"a@x.io", "b@x.io", "c@x.io", "d@x.io"} {
		people = append(people, b.customer(t, customerOpts{email: e, consent: &yes}))
	}
	e := b.customer(t, customerOpts{email: "e@x.io", consent: &no})
	b.join(t, seg, append(people, e)...)
	c := b.campaign(t, seg, nil)
	other := b.campaign(t, seg, nil)
	b.run(t, c)

	a, bb, cc := people[0], people[1], people[2]
	own := `{"campaign_id":"` + c.ID.String() + `","machine":false}`
	ownMachine := `{"campaign_id":"` + c.ID.String() + `","machine":true}`
	clickAt := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	money := func(v float64) *float64 { return &v }

	b.event(t, a, EventOpened, own, clickAt.Add(-time.Minute), nil)
	b.event(t, a, EventOpened, own, clickAt.Add(-time.Second), nil) // a second open: still one person
	b.event(t, a, EventClicked, own, clickAt, nil)
	b.event(t, a, "Order Completed", `{}`, clickAt.Add(-24*time.Hour), money(7))    // before the click
	b.event(t, a, "Order Completed", `{}`, clickAt.Add(48*time.Hour), money(100))   // converts
	b.event(t, a, "Order Completed", `{}`, clickAt.Add(10*24*time.Hour), money(50)) // after the window
	b.event(t, bb, EventOpened, ownMachine, clickAt, nil)
	b.event(t, bb, EventOpened, own, clickAt.Add(time.Hour), nil)
	b.event(t, cc, EventClicked, ownMachine, clickAt, nil) // a scanner following the link
	b.event(t, cc, "Order Completed", `{}`, clickAt.Add(time.Hour), money(30))
	b.event(t, people[3], EventOpened, `{"campaign_id":"`+other.ID.String()+`","machine":false}`, clickAt, nil)
	b.exec(t, `INSERT INTO campaign_tracking_counts (campaign_id, kind, machine, day, count) VALUES
		($1, 'open', false, '2026-11-02', 2), ($1, 'open', false, '2026-11-03', 1), ($1, 'open', true, '2026-11-02', 4), ($1, 'click', false, '2026-11-02', 1)`, c.ID)

	s, err := CampaignStats(b.ctx, b.db, c.ID)
	require.NoError(t, err)
	require.Equal(t, Stats{Audience: 4, Synced: 4, UniqueOpens: 2, MachineOpens: 1, UniqueClicks: 1,
		Conversions: 1, Revenue: 100, UnlinkedOpens: 3, UnlinkedMachineOpens: 4, UnlinkedClicks: 1}, s)
	require.InDelta(t, 0.25, s.CTR(), 1e-9)
	require.InDelta(t, 0.5, s.OpenRate(), 1e-9)
	require.InDelta(t, 1.0, s.ConversionRate(), 1e-9)

	t.Run("window", func(t *testing.T) {
		b.exec(t, `UPDATE campaigns SET conversion_window_days = 30 WHERE id = $1`, c.ID)
		s, err := CampaignStats(b.ctx, b.db, c.ID)
		require.NoError(t, err)
		require.Equal(t, 2, s.Conversions)
		require.InDelta(t, 150, s.Revenue, 1e-9)
	})
	t.Run("unknown campaign", func(t *testing.T) {
		_, err := CampaignStats(b.ctx, b.db, uuid.Must(uuid.NewV7()))
		require.ErrorIs(t, err, ErrNotFound)
	})
}

func TestSyncTrackingFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	box, err := secret.New(strings.Repeat("k", 40))
	require.NoError(t, err)
	tr := &Tracking{Signer: box, BaseURL: "https://cairn.example"}
	b.syncer.Tracking = tr
	yes := true
	seg := b.segment(t)
	cust := b.customer(t, customerOpts{email: "t@x.io", consent: &yes})
	b.join(t, seg, cust)
	c := b.campaign(t, seg, map[string]string{"EMAIL": SourceEmail})
	b.run(t, c)
	got := b.fake.snapshot()["t@x.io"]
	tok := tr.Token(c.ID, cust)
	require.Equal(t, map[string]string{"EMAIL": "t@x.io", FieldToken: tok,
		FieldOpen: "https://cairn.example/t/o/" + tok + ".gif", FieldClick: "https://cairn.example/t/c/" + tok}, got)
	gotCampaign, gotCustomer, err := tr.ParseToken(got[FieldToken])
	require.NoError(t, err)
	require.Equal(t, [2]uuid.UUID{c.ID, cust}, [2]uuid.UUID{gotCampaign, gotCustomer})
	for name := range got {
		require.LessOrEqual(t, len(name), 10, "Mailchimp merge tags are at most 10 characters")
	}
}
