package jobs

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/secret"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestPrivacyReachesCampaignDestinations syncs people to a fake Mailchimp through a real
// campaign sync on River, then erases one through the privacy service (permanently deleted at
// Mailchimp, no row of any table naming their email) and withdraws another's email_marketing
// consent (archived at Mailchimp, snapshot row removed, not re-added by the next sync).
func TestPrivacyReachesCampaignDestinations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	box, err := secret.New("0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	fake := providertest.NewMailchimp(t, nil)
	dests := &campaign.Destinations{Sealer: box, Open: func(kind string, cfg map[string]any) (provider.Destination, error) {
		str := func(k string) string { s, _ := cfg[k].(string); return s }
		return provider.New(provider.Config{Kind: kind, BaseURL: str("base_url"), APIKey: str("api_key"),
			ListID: str("list_id"), AudienceName: "Cairn audience"}, provider.Options{AllowPrivate: true})
	}}
	sched, queue := &PrivacyScheduler{}, &CampaignPrivacyQueue{}
	priv, err := privacy.New(privacy.Config{DB: db, Box: box, Scheduler: sched, SweepAfter: -1,
		Destinations: &campaign.Privacy{DB: db, Destinations: dests, Queue: queue}})
	require.NoError(t, err)
	client, runnable, err := NewClient(Deps{DB: db, Log: slog.New(slog.DiscardHandler), Privacy: priv, Destinations: dests},
		Options{RunWorkers: true, MaxWorkers: 4, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.True(t, runnable)
	sched.Client, queue.Client = client, client
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})

	segID := uuid.Must(uuid.NewV7())
	_, err = db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, status)
		VALUES ($1, now(), now(), 'pro', '{"trait":{"key":"plan","op":"EQ","value":"pro"}}', 'ready')`, segID)
	require.NoError(t, err)
	member := func(email string) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		_, err := db.Exec(`INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
			VALUES ($1, now(), now(), '{"plan":"pro"}', '{}', $2, now(), now())`, id, email)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
			VALUES (gen_random_uuid(), 'email', $2, now(), now(), $1)`, id, email)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO consents (id, customer_id, purpose, granted, recorded_at) VALUES ($1, $2, 'email_marketing', true, now())`,
			uuid.Must(uuid.NewV7()), id)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) VALUES ($1, $2, $3, now())`,
			uuid.Must(uuid.NewV7()), segID, id)
		require.NoError(t, err)
		return id
	}
	const erased, withdrawn, stays = "erase.me@example.org", "withdraw.me@example.org", "stays@example.org"
	member(erased)
	bob := member(withdrawn)
	member(stays)
	dst, err := dests.Create(ctx, txn.NewClient(db), campaign.DestinationInput{Kind: "mailchimp", Name: "mc",
		Config: map[string]any{"api_key": fake.APIKey, "list_id": fake.ListID, "base_url": fake.URL}})
	require.NoError(t, err)
	c, err := campaign.Create(ctx, txn.NewClient(db), campaign.CreateInput{Name: "weekly", SegmentID: segID, DestinationID: dst.ID})
	require.NoError(t, err)

	waitJob := func(t *testing.T, kind string, n int) {
		t.Helper()
		require.Eventually(t, func() bool {
			var done int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`, kind).Scan(&done))
			return done >= n
		}, 30*time.Second, 20*time.Millisecond, "waiting for %d completed %s job(s)", n, kind)
	}
	syncs := 0
	runSync := func(t *testing.T) {
		t.Helper()
		_, err := CampaignJobs{Client: client, DB: db}.RunSync(ctx, c.ID)
		require.NoError(t, err)
		syncs++
		waitJob(t, "campaign_sync", syncs)
	}
	runSync(t)
	for _, e := range []string{erased, withdrawn, stays} {
		m, ok := fake.Member(e)
		require.True(t, ok, e)
		require.Equal(t, "subscribed", m.Status)
	}

	// A short user id that occurs in the destination's id (its random tail): the erasure's cleanup of river_job
	// matches it in the erase job's args, and must spare that job.
	_, err = db.Exec(`INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
		SELECT gen_random_uuid(), 'user_id', $2, now(), now(), customer_id FROM identities WHERE type = 'email' AND value = $1`,
		erased, dst.ID.String()[28:])
	require.NoError(t, err)

	t.Run("erasure deletes permanently and leaves no row naming the email", func(t *testing.T) {
		req, err := priv.RequestErasure(ctx, "key:test", "email", erased)
		require.NoError(t, err)
		waitJob(t, "campaign_erase", 1)
		var status string
		require.NoError(t, db.QueryRow(`SELECT status FROM privacy_requests WHERE id = $1`, req.ID).Scan(&status))
		require.Equal(t, "completed", status)
		_, held := fake.Member(erased)
		require.False(t, held)
		require.Contains(t, fake.Deleted(), erased)
		require.Equal(t, []string{stays, withdrawn}, fake.SegmentMembers("Cairn audience"))
		require.Empty(t, tablesNaming(t, db, erased))
		require.Empty(t, tablesNaming(t, db, "erase.me"))
	})
	t.Run("an email_marketing withdrawal archives the member and the next sync leaves it out", func(t *testing.T) {
		_, err := priv.RecordConsent(ctx, "key:test", privacy.ConsentInput{CustomerID: &bob,
			Purpose: privacy.PurposeEmailMarketing, Granted: false, Source: "test"})
		require.NoError(t, err)
		waitJob(t, "campaign_withdraw", 1)
		m, ok := fake.Member(withdrawn)
		require.True(t, ok)
		require.Equal(t, "archived", m.Status)
		var state string
		require.NoError(t, db.QueryRow(`SELECT state FROM campaign_members WHERE customer_id = $1`, bob).Scan(&state))
		require.Equal(t, "removed", state)
		runSync(t)
		m, _ = fake.Member(withdrawn)
		require.Equal(t, "archived", m.Status)
		require.Equal(t, []string{stays}, fake.SegmentMembers("Cairn audience"))
		var removed int
		require.NoError(t, db.QueryRow(`SELECT removed + added + updated FROM campaign_syncs WHERE campaign_id = $1
			ORDER BY started_at DESC LIMIT 1`, c.ID).Scan(&removed))
		require.Zero(t, removed, "the withdrawal already reached the destination: the next sync sends nothing")
	})
	t.Run("a job whose destination was deleted completes", func(t *testing.T) {
		gone := uuid.Must(uuid.NewV7())
		sealed, err := box.Seal([]byte(`["nobody@example.org"]`))
		require.NoError(t, err)
		res, err := client.Insert(ctx, CampaignEraseArgs{DestinationID: gone, Emails: sealed}, nil)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			var state string
			require.NoError(t, db.QueryRow(`SELECT state FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state))
			return state == "completed"
		}, 30*time.Second, 20*time.Millisecond)
	})
}

// tablesNaming returns the tables of the public schema with a row whose text holds s.
func tablesNaming(t *testing.T, db *sql.DB, s string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	var out []string
	for _, name := range tables {
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM `+pq.QuoteIdentifier(name)+` x WHERE strpos(x::text, $1) > 0`, s).Scan(&n))
		if n > 0 {
			out = append(out, name)
		}
	}
	return out
}
