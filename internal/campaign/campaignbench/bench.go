// Package campaignbench measures campaign syncs and tracking end to end against an in-process
// fake Mailchimp (providertest) with a fixed latency per call: the first sync of a large
// audience beside its provider-bound floor, the time a segment membership change takes to
// reach the provider (through River), and the tracking endpoints' latency at a fixed rate.
// It writes bench rows (customers with emails under @bench-sync.invalid, a segment, a
// destination, a campaign) into the database it is given: run it on a bench database.
package campaignbench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
	"github.com/cairn-cdp/cairn/internal/secret"
	"github.com/cairn-cdp/cairn/internal/segment"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Options of a run; zero fields take the figures.
type Options struct {
	DB          *sql.DB
	Audience    int           // first-sync audience (100,000)
	Latency     time.Duration // per provider call (50 ms)
	Conns       int           // provider connections (Mailchimp's 10)
	Concurrency int           // engine calls in flight (0: campaign.DefaultConcurrency)
	Change      int           // customers entering the segment (1,000)
	TrackRate   int           // tracking requests per second (1,000)
	TrackFor    time.Duration // (5 s)
	// Workers starts job workers (River, in cmd) that run campaign syncs with dests and
	// tracking, and returns the scheduler a segment computation enqueues delta syncs through
	// and a stop function. Required: this package stays below jobs.
	Workers func(ctx context.Context, dests *campaign.Destinations, tracking *campaign.Tracking) (segment.Scheduler, func(), error)
	// TrackWorkers record opens and clicks after answering (as cairn serve does, 32); negative:
	// record before answering.
	TrackWorkers int
	Log          io.Writer
}

func (o *Options) defaults() {
	if o.Audience <= 0 {
		o.Audience = 100_000
	}
	if o.Latency <= 0 {
		o.Latency = 50 * time.Millisecond
	}
	if o.Conns <= 0 {
		o.Conns = provider.MailchimpMaxConns
	}
	if o.Change <= 0 {
		o.Change = 1000
	}
	if o.TrackRate <= 0 {
		o.TrackRate = 1000
	}
	if o.TrackFor <= 0 {
		o.TrackFor = 5 * time.Second
	}
	switch {
	case o.TrackWorkers == 0:
		o.TrackWorkers = 32
	case o.TrackWorkers < 0:
		o.TrackWorkers = 0
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Report is what a run measured.
type Report struct {
	Audience      int
	Calls         int           // provider requests of the first sync
	Floor         time.Duration // Calls × Latency / Conns
	FirstSync     time.Duration
	Added         int
	Change        int
	ChangeLatency time.Duration // segment computation committed → last contact at the fake
	ChangeCalls   int
	Track         *TrackReport
}

// Ratio is FirstSync / Floor.
func (r *Report) Ratio() float64 {
	if r.Floor == 0 {
		return 0
	}
	return float64(r.FirstSync) / float64(r.Floor)
}

type env struct {
	o        Options
	db       *sql.DB
	client   *ent.Client
	fake     *providertest.Mailchimp
	dests    *campaign.Destinations
	tracking *campaign.Tracking
	run      string // this run's tag in bench emails
	segment  uuid.UUID
	svc      *segment.Service
	camp     *ent.Campaign
}

// Run measures; the fake provider and the in-process workers stop when it returns.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	e := &env{o: o, db: o.DB, client: txn.NewClient(o.DB)}
	var tag [4]byte
	_, _ = rand.Read(tag[:])
	e.run = hex.EncodeToString(tag[:])
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(hex.EncodeToString(key))
	if err != nil {
		return nil, err
	}
	e.tracking = &campaign.Tracking{Signer: box, BaseURL: "http://cairn.bench.invalid"}
	e.fake = providertest.StartMailchimp(&providertest.MailchimpOpts{Latency: o.Latency, MaxConcurrent: o.Conns})
	defer e.fake.Close()
	e.dests = &campaign.Destinations{Sealer: box, Open: func(string, map[string]any) (provider.Destination, error) {
		return provider.New(provider.Config{Kind: provider.KindMailchimp, APIKey: e.fake.APIKey, ListID: e.fake.ListID,
			BaseURL: e.fake.URL, AudienceName: "bench " + e.run}, provider.Options{AllowPrivate: true, MaxConns: o.Conns})
	}}

	rep := &Report{Audience: o.Audience, Change: o.Change}
	fmt.Fprintf(o.Log, "seeding %d customers (run %s)…\n", o.Audience, e.run)
	if err := e.seed(ctx); err != nil {
		return nil, err
	}
	if err := e.firstSync(ctx, rep); err != nil {
		return nil, err
	}
	if err := e.change(ctx, rep); err != nil {
		return nil, err
	}
	tr, err := e.trackingLoad(ctx)
	if err != nil {
		return nil, err
	}
	rep.Track = tr
	return rep, nil
}

// seed inserts the audience (email, email identity, granted consent, trait bench_sync = run)
// and a segment of it, computed.
func (e *env) seed(ctx context.Context) error {
	if err := e.insertCustomers(ctx, 1, e.o.Audience); err != nil {
		return err
	}
	if _, err := e.db.ExecContext(ctx, `ANALYZE customers; ANALYZE consents; ANALYZE identities`); err != nil {
		return fmt.Errorf("error analyzing: %w", err)
	}
	e.svc = &segment.Service{DB: e.db}
	err := txn.Run(ctx, e.db, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		s, err := segment.Create(ctx, tx, nil, segment.CreateInput{Name: "bench sync " + e.run,
			Rule: &segment.Rule{Trait: &segment.TraitCondition{Key: "bench_sync", Op: segment.OpEQ, Value: e.run}}})
		if err != nil {
			return err
		}
		e.segment = s.ID
		return nil
	})
	if err != nil {
		return fmt.Errorf("error creating the bench segment: %w", err)
	}
	if _, err := e.svc.Compute(ctx, e.segment); err != nil {
		return fmt.Errorf("error computing the bench segment: %w", err)
	}
	_, err = e.db.ExecContext(ctx, `ANALYZE segment_memberships`)
	return err
}

// insertCustomers adds customers from..to (inclusive) of this run.
func (e *env) insertCustomers(ctx context.Context, from, to int) error {
	_, err := e.db.ExecContext(ctx, `
		WITH c AS (
		  INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
		  SELECT gen_random_uuid(), now(), now(), jsonb_build_object('bench_sync', $1::text, 'first_name', 'n' || i), '{}',
		         'c' || i || '-' || $1 || '@bench-sync.invalid', now(), now()
		  FROM generate_series($2::int, $3::int) i RETURNING id, email),
		i AS (INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
		  SELECT gen_random_uuid(), 'email', email, now(), now(), id FROM c)
		INSERT INTO consents (id, customer_id, purpose, granted, recorded_at)
		SELECT gen_random_uuid(), id, 'email_marketing', true, now() FROM c`, e.run, from, to)
	if err != nil {
		return fmt.Errorf("error seeding customers: %w", err)
	}
	return nil
}

func (e *env) firstSync(ctx context.Context, rep *Report) error {
	d, err := e.dests.Create(ctx, e.client, campaign.DestinationInput{Kind: provider.KindMailchimp, Name: "bench " + e.run,
		Config: map[string]any{"api_key": e.fake.APIKey, "list_id": e.fake.ListID}})
	if err != nil {
		return fmt.Errorf("error creating the bench destination: %w", err)
	}
	e.camp, err = campaign.Create(ctx, e.client, campaign.CreateInput{Name: "bench " + e.run, SegmentID: e.segment,
		DestinationID: d.ID, Fields: map[string]string{"FNAME": "trait:first_name"}})
	if err != nil {
		return fmt.Errorf("error creating the bench campaign: %w", err)
	}
	syncer := &campaign.Syncer{DB: e.db, Destinations: e.dests, Tracking: e.tracking, Concurrency: e.o.Concurrency}
	before := e.fake.Requests()
	start := time.Now()
	run, err := syncer.Run(ctx, e.camp.ID, campaign.RunOptions{Trigger: campaign.TriggerManual})
	if err != nil {
		return fmt.Errorf("first sync: %w", err)
	}
	rep.FirstSync = time.Since(start)
	rep.Added = run.Added
	rep.Calls = e.fake.Requests() - before
	rep.Floor = time.Duration(rep.Calls) * e.o.Latency / time.Duration(e.o.Conns)
	fmt.Fprintf(e.o.Log, "first sync: %d added in %s, %d calls (floor %s)\n", run.Added, rep.FirstSync.Round(time.Millisecond), rep.Calls, rep.Floor)
	return nil
}

// change lets Change new customers into the segment through a full computation whose
// ScheduleSync enqueues the delta on River, run by in-process workers, and times from the
// computation's commit until the fake holds every one of them.
func (e *env) change(ctx context.Context, rep *Report) error {
	if _, err := campaign.SetSchedule(ctx, e.client, e.camp.ID, campaign.Schedule{Cron: "0 0 1 1 *"}, time.Now()); err != nil {
		return fmt.Errorf("error scheduling the bench campaign: %w", err)
	}
	if e.o.Workers == nil {
		return fmt.Errorf("campaignbench: Options.Workers is required")
	}
	sched, stop, err := e.o.Workers(ctx, e.dests, e.tracking)
	if err != nil {
		return fmt.Errorf("error starting workers: %w", err)
	}
	defer stop()
	from := e.o.Audience + 1
	if err := e.insertCustomers(ctx, from, from+e.o.Change-1); err != nil {
		return err
	}
	last := fmt.Sprintf("c%d-%s@bench-sync.invalid", from+e.o.Change-1, e.run)
	want := make([]string, 0, e.o.Change)
	for i := from; i < from+e.o.Change; i++ {
		want = append(want, fmt.Sprintf("c%d-%s@bench-sync.invalid", i, e.run))
	}
	e.svc.Scheduler = sched
	before := e.fake.Requests()
	res, err := e.svc.Compute(ctx, e.segment)
	if err != nil {
		return fmt.Errorf("error computing the changed segment: %w", err)
	}
	committed := time.Now()
	if res.Entered != e.o.Change {
		return fmt.Errorf("the change let %d customers in, want %d", res.Entered, e.o.Change)
	}
	deadline := committed.Add(2 * time.Minute)
	for {
		if _, ok := e.fake.Member(last); ok && all(e.fake, want) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the change did not reach the fake within 2 minutes")
		}
		time.Sleep(2 * time.Millisecond)
	}
	rep.ChangeLatency = time.Since(committed)
	rep.ChangeCalls = e.fake.Requests() - before
	fmt.Fprintf(e.o.Log, "change of %d: at the fake %s after the computation committed (%d calls)\n", e.o.Change, rep.ChangeLatency.Round(time.Millisecond), rep.ChangeCalls)
	return nil
}

func all(f *providertest.Mailchimp, emails []string) bool {
	for _, e := range emails {
		if _, ok := f.Member(e); !ok {
			return false
		}
	}
	return true
}
