package jobs

import (
	"context"
	"database/sql"
	"encoding/base64"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/segment"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// countingDestination holds contacts in memory and counts every contact it was sent.
type countingDestination struct {
	mu    sync.Mutex
	held  map[string]bool
	sends map[string]int
}

func (d *countingDestination) Test(context.Context) error { return nil }

func (d *countingDestination) Upsert(_ context.Context, cs []provider.Contact) (provider.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range cs {
		d.held[c.Email] = true
		d.sends[c.Email]++
	}
	return provider.Result{}, nil
}

func (d *countingDestination) Remove(_ context.Context, emails []string) (provider.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range emails {
		delete(d.held, e)
		d.sends[e]++
	}
	return provider.Result{}, nil
}

func (d *countingDestination) Erase(ctx context.Context, emails []string) (provider.Result, error) {
	return d.Remove(ctx, emails)
}

func (d *countingDestination) state() (map[string]bool, map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	held, sends := map[string]bool{}, map[string]int{}
	for k, v := range d.held {
		held[k] = v
	}
	for k, v := range d.sends {
		sends[k] = v
	}
	return held, sends
}

type plainSealer struct{}

func (plainSealer) Seal(p []byte) (string, error) { return base64.StdEncoding.EncodeToString(p), nil }
func (plainSealer) Open(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

type campaignBundle struct {
	ctx    context.Context
	db     *sql.DB
	client *ent.Client
	dest   *countingDestination
	deps   Deps
	driver *riverdatabasesql.Driver
}

func setupCampaigns(t *testing.T) *campaignBundle {
	t.Helper()
	db := testdb.New(t)
	dest := &countingDestination{held: map[string]bool{}, sends: map[string]int{}}
	deps := Deps{DB: db, Log: slog.New(slog.DiscardHandler), Destinations: &campaign.Destinations{
		Sealer: plainSealer{},
		Open:   func(string, map[string]any) (provider.Destination, error) { return dest, nil },
	}}
	return &campaignBundle{ctx: t.Context(), db: db, client: txn.NewClient(db), dest: dest, deps: deps, driver: riverdatabasesql.New(db)}
}

// campaign makes a segment of n consenting customers with emails (memberships written
// directly) and a scheduled campaign on it, due now.
func (b *campaignBundle) campaign(t *testing.T, n int) (segID uuid.UUID, c *ent.Campaign) {
	t.Helper()
	segID = uuid.Must(uuid.NewV7())
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, status)
		VALUES ($1, now(), now(), 'pro', '{"trait":{"key":"plan","op":"EQ","value":"pro"}}', 'ready')`, segID)
	require.NoError(t, err)
	for i := range n {
		b.member(t, segID, uuid.NewString()[:8]+"@example.com", i%2 == 0)
	}
	d, err := b.deps.Destinations.Create(b.ctx, b.client, campaign.DestinationInput{Kind: "webhook", Name: "hook",
		Config: map[string]any{"url": "https://hooks.example.com/cairn", "secret": "whsec-0123456789"}})
	require.NoError(t, err)
	c, err = campaign.Create(b.ctx, b.client, campaign.CreateInput{Name: "weekly", SegmentID: segID, DestinationID: d.ID})
	require.NoError(t, err)
	c, err = campaign.SetSchedule(b.ctx, b.client, c.ID, campaign.Schedule{Cron: "0 9 * * 1", TimeZone: "America/New_York"}, time.Now())
	require.NoError(t, err)
	_, err = b.db.ExecContext(b.ctx, `UPDATE campaigns SET next_run_at = now() - interval '1 minute' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	return segID, c
}

// member adds a consenting customer with a pro plan (so the segment's rule agrees) to segID
// when joined, or leaves it out.
func (b *campaignBundle) member(t *testing.T, segID uuid.UUID, email string, joined bool) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	plan := "free"
	if joined {
		plan = "pro"
	}
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), jsonb_build_object('plan', $2::text), '{}', $3, now(), now())`, id, plan, email)
	require.NoError(t, err)
	_, err = b.db.ExecContext(b.ctx, `INSERT INTO consents (id, customer_id, purpose, granted, recorded_at) VALUES ($1, $2, 'email_marketing', true, now())`,
		uuid.Must(uuid.NewV7()), id)
	require.NoError(t, err)
	if joined {
		_, err = b.db.ExecContext(b.ctx, `INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) VALUES ($1, $2, $3, now())`,
			uuid.Must(uuid.NewV7()), segID, id)
		require.NoError(t, err)
	}
	return id
}

// startWorker starts a River client with workers on the bundle's database.
func (b *campaignBundle) startWorker(t *testing.T) *Client {
	t.Helper()
	client, runnable, err := NewClient(b.deps, Options{RunWorkers: true, MaxWorkers: 4, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.True(t, runnable)
	require.NoError(t, client.Start(b.ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	return client
}

// waitSyncs waits until n campaign_sync jobs have completed on client.
func waitSyncs(t *testing.T, events <-chan *river.Event, n int) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for n > 0 {
		select {
		case ev := <-events:
			if ev.Job.Kind == (CampaignSyncArgs{}).Kind() {
				require.Equal(t, river.EventKindJobCompleted, ev.Kind, "campaign_sync ended %s: %v", ev.Kind, ev.Job.Errors)
				n--
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %d campaign syncs", n)
		}
	}
}

func TestScheduledSlotRunsOnceWithTwoWorkers(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	_, c := b.campaign(t, 6)
	w1, w2 := b.startWorker(t), b.startWorker(t)
	events1, cancel1 := w1.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancel1()
	events2, cancel2 := w2.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancel2()
	merged := make(chan *river.Event, 64)
	for _, ch := range []<-chan *river.Event{events1, events2} {
		go func() {
			for ev := range ch {
				merged <- ev
			}
		}()
	}

	// Both workers' enqueuers look for due slots at once; the slot is handed out once.
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, w := range []*Client{w1, w2} {
		wg.Go(func() {
			n, err := EnqueueDueCampaigns(b.ctx, b.db, w, time.Now())
			require.NoError(t, err)
			counts[i] = n
		})
	}
	wg.Wait()
	require.Equal(t, 1, counts[0]+counts[1])
	waitSyncs(t, merged, 1)

	got, err := b.client.Campaign.Get(b.ctx, c.ID)
	require.NoError(t, err)
	require.True(t, got.NextRunAt.After(time.Now()), "next_run_at advanced to the next Monday 9:00 in New York")
	var slot time.Time
	require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT slot FROM campaign_syncs WHERE campaign_id = $1`, c.ID).Scan(&slot))

	// Inserting the same slot again, from either client, even after it completed, is a
	// duplicate.
	for _, w := range []*Client{w1, w2} {
		res, err := w.Insert(b.ctx, CampaignSyncArgs{CampaignID: c.ID, Trigger: "schedule", Slot: &slot}, nil)
		require.NoError(t, err)
		require.True(t, res.UniqueSkippedAsDuplicate)
	}
	held, sends := b.dest.state()
	require.Len(t, held, 3)
	for e, n := range sends {
		require.Equal(t, 1, n, "%s sent %d times", e, n)
	}
	var runs int
	require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT count(*) FROM campaign_syncs WHERE campaign_id = $1 AND status = 'succeeded'`, c.ID).Scan(&runs))
	require.Equal(t, 1, runs)
}

func TestSegmentChangeEnqueuesOneDeltaSync(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	segID, c := b.campaign(t, 4)
	insertOnly, _, err := NewClient(b.deps, Options{})
	require.NoError(t, err)
	sched := SegmentScheduler{Client: insertOnly}
	schedule := func() {
		require.NoError(t, txn.Run(b.ctx, b.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
			return sched.ScheduleSync(ctx, tx, c.ID)
		}))
	}
	deltas := func() int {
		var n int
		require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT count(*) FROM river_job WHERE kind = 'campaign_sync' AND args->>'trigger' = 'segment'`).Scan(&n))
		return n
	}

	// Before its first run, a campaign gets no deltas.
	schedule()
	require.Zero(t, deltas())

	w := b.startWorker(t)
	events, cancel := w.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancel()
	_, err = EnqueueDueCampaigns(b.ctx, b.db, w, time.Now())
	require.NoError(t, err)
	waitSyncs(t, events, 1)
	held, _ := b.dest.state()
	require.Len(t, held, 2)

	// A new pro customer; the segment computation that adds them enqueues one delta sync in
	// its transaction, and the worker sends them.
	b.member(t, segID, "new-pro@example.com", false)
	_, err = b.db.ExecContext(b.ctx, `UPDATE customers SET traits = '{"plan":"pro"}' WHERE email = 'new-pro@example.com'`)
	require.NoError(t, err)
	svc := &segment.Service{DB: b.db, Scheduler: SegmentScheduler{Client: w}}
	res, err := svc.Compute(b.ctx, segID)
	require.NoError(t, err)
	require.Equal(t, 1, res.Entered)
	waitSyncs(t, events, 1)
	held, sends := b.dest.state()
	require.True(t, held["new-pro@example.com"])
	require.Equal(t, 1, sends["new-pro@example.com"])
	require.Equal(t, 1, deltas())

	// With a worker stopped, further changes coalesce into one waiting delta.
	require.NoError(t, w.Stop(b.ctx))
	schedule()
	schedule()
	schedule()
	require.Equal(t, 2, deltas())
	rivertest.RequireManyInserted(b.ctx, t, b.driver, []rivertest.ExpectedJob{
		{Args: CampaignSyncArgs{}}, {Args: CampaignSyncArgs{}}, {Args: CampaignSyncArgs{}},
	})
}

// stallingDestination is a countingDestination whose stallAt-th upsert call waits until its
// context ends (the worker is stopped mid-call) and fails.
type stallingDestination struct {
	*countingDestination
	mu      sync.Mutex
	calls   int
	stallAt int
	stalled chan struct{}
}

func (d *stallingDestination) Upsert(ctx context.Context, cs []provider.Contact) (provider.Result, error) {
	d.mu.Lock()
	d.calls++
	n := d.calls
	d.mu.Unlock()
	if n == d.stallAt {
		close(d.stalled)
		<-ctx.Done()
		return provider.Result{}, ctx.Err()
	}
	return d.countingDestination.Upsert(ctx, cs)
}

func TestStoppedWorkerSyncResumesOnRetry(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	dest := &stallingDestination{countingDestination: b.dest, stallAt: 3, stalled: make(chan struct{})}
	b.deps.Destinations.Open = func(string, map[string]any) (provider.Destination, error) { return dest, nil }
	segID, c := b.campaign(t, 0)
	// 1,200 consenting members: three calls of 500, 500 and 200, in any order.
	_, err := b.db.ExecContext(b.ctx, `
		WITH c AS (
		  INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
		  SELECT gen_random_uuid(), now(), now(), '{"plan":"pro"}', '{}', 'm' || i || '@example.com', now(), now()
		  FROM generate_series(1, 1200) i RETURNING id),
		k AS (INSERT INTO consents (id, customer_id, purpose, granted, recorded_at)
		  SELECT gen_random_uuid(), id, 'email_marketing', true, now() FROM c)
		INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) SELECT gen_random_uuid(), $1, id, now() FROM c`, segID)
	require.NoError(t, err)

	first := b.startWorker(t)
	firstEvents, cancelFirst := first.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancelFirst()
	_, err = EnqueueDueCampaigns(b.ctx, b.db, first, time.Now())
	require.NoError(t, err)
	timeout := time.After(60 * time.Second)
	for stalled := false; !stalled; {
		select {
		case <-dest.stalled:
			stalled = true
		case ev := <-firstEvents:
			require.NotEqual(t, (CampaignSyncArgs{}).Kind(), ev.Job.Kind, "the sync ended before its third call: %s %v", ev.Kind, ev.Job.Errors)
		case <-timeout:
			t.Fatal("the sync never reached its third call")
		}
	}
	// The worker stops mid-sync: the job's context is cancelled and it is left to retry.
	stopCtx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, first.StopAndCancel(stopCtx))
	var running struct {
		status string
		added  int
	}
	require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT status, added FROM campaign_syncs WHERE campaign_id = $1`, c.ID).
		Scan(&running.status, &running.added))
	require.Equal(t, "running", running.status)
	// Calls run concurrently, so which batches were confirmed before the stall varies (500+500
	// or 500+200): what the fake confirmed is exactly what the sync row records.
	confirmed, _ := b.dest.state()
	require.Contains(t, []int{700, 1000}, len(confirmed), "two calls were confirmed before the third stalled")
	require.Equal(t, len(confirmed), running.added, "the two confirmed calls are recorded")

	// Another worker takes the retry and completes the same sync, sending only the rest.
	second := b.startWorker(t)
	events, cancelEvents := second.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancelEvents()
	waitSyncs(t, events, 1)
	var status string
	var added, runs int
	require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT status, added, count(*) OVER () FROM campaign_syncs WHERE campaign_id = $1`, c.ID).
		Scan(&status, &added, &runs))
	require.Equal(t, "succeeded", status)
	require.Equal(t, 1200, added)
	require.Equal(t, 1, runs)
	held, sends := b.dest.state()
	require.Len(t, held, 1200)
	for e, n := range sends {
		require.Equal(t, 1, n, "%s sent %d times", e, n)
	}
}
