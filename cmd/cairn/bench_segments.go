package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/bench"
	"github.com/cairn-cdp/cairn/internal/segment"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchSegmentsCmd) }

// benchSegmentsOptions is the three-condition rule of issue 4's targets: a trait, an event count
// within a window, and a consent.
type benchSegmentsOptions struct {
	dbURL      string
	runs       int
	traitKey   string
	traitValue string
	event      string
	days       int
	minCount   int
	purpose    string

	// End to end incremental phase (with a write key and a running server).
	url         string
	key         string
	loadRate    int
	probes      int
	allowRemote bool
}

func newBenchSegmentsCmd() *cobra.Command {
	o := benchSegmentsOptions{}
	cmd := &cobra.Command{
		Use:   "segments",
		Short: "Time segmentPreview and ComputeSegment for a three-condition rule against hand-written SQL",
		Long: `Times, against the database in DATABASE_URL (seed it first with cairn seed), the preview
count and the full computation of the rule

  traits.<trait-key> = '<trait-value>' AND performed '<event>' ≥ <min-count> times in the last
  <days> days AND consent to <purpose> granted

as the segment compiler generates it and as the best hand-written SQL for that rule, alternating
the two, and prints the best time of each with their ratio. Targets: preview ≤ 1 s, compute ≤ 5 s
on 1M customers / 10M events, each within 1.3× of the hand-written SQL. The computations write
into two temporary segments that are deleted at the end. Last, it marks 1,000 random customers
dirty and times one incremental drain (run it on a bench database: the drain re-evaluates every
segment there and consumes whatever else is queued in segment_dirty_customers).

With --key (a write key, scope ingest) and a running cairn serve at --url, it then measures
incremental re-evaluation end to end: while single /v1/track events arrive at --load-rate per
second in the background, it sends --probes events (one a second) that put a new customer into
a temporary segment, and times each from its 200 until the membership is visible (what
Customer.segments reads). Target: ≤ 2 s under 1,000 events/s.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.runs < 1 || o.days < 1 || o.minCount < 1 {
				return errors.New("--runs, --days and --min-count must be at least 1")
			}
			if o.key != "" && (o.loadRate < 1 || o.loadRate > bench.MaxRate || o.probes < 1 || o.probes > 300) {
				return fmt.Errorf("--load-rate must be between 1 and %d and --probes between 1 and 300", bench.MaxRate)
			}
			if o.key != "" {
				if err := bench.CheckTarget(o.url, o.allowRemote); err != nil {
					return err
				}
			}
			db, closeDB, err := benchDB(cmd, o.dbURL)
			if err != nil {
				return err
			}
			defer closeDB()
			return runBenchSegments(cmd.Context(), cmd.OutOrStdout(), db, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dbURL, "database-url", "", "database to measure (default $DATABASE_URL, else the local cluster)")
	f.IntVar(&o.runs, "runs", 3, "runs of each query; the best is reported")
	f.StringVar(&o.traitKey, "trait-key", "plan", "trait of the rule's trait condition")
	f.StringVar(&o.traitValue, "trait-value", "pro", "value it must equal (case-insensitive)")
	f.StringVar(&o.event, "event", "Page Viewed", "event of the rule's count condition")
	f.IntVar(&o.days, "days", 30, "the count's window in days")
	f.IntVar(&o.minCount, "min-count", 2, "events needed in the window")
	f.StringVar(&o.purpose, "purpose", "email_marketing", "consent purpose that must be granted")
	f.StringVar(&o.url, "url", "http://localhost:8080", "running server for the end-to-end incremental phase (loopback only)")
	f.StringVar(&o.key, "key", os.Getenv("CAIRN_WRITE_KEY"), "write key (scope ingest) for the incremental phase; without it the phase is skipped (default $CAIRN_WRITE_KEY)")
	f.IntVar(&o.loadRate, "load-rate", 1000, "background /v1/track events per second during the incremental phase")
	f.IntVar(&o.probes, "probes", 10, "probe events of the incremental phase, one a second")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow a --url that is not a loopback address")
	return cmd
}

// The best hand-written SQL for the rule depends on the data, so there are two, both timed; the
// faster one in the preview is the baseline (and the one the hand-written compute uses).
//
// benchHandCountFirst counts the window's events per customer first (index-only scan of
// interaction_event_occurred_at), then reads the customers with enough of them by primary key
// for the trait, and the latest consent by a backward scan of
// consent_customer_id_purpose_recorded_at. Best when few customers have enough events.
const benchHandCountFirst = `
SELECT c.id
FROM (SELECT customer_id FROM interactions
      WHERE event = $1 AND occurred_at >= $2
      GROUP BY customer_id HAVING count(*) >= $3) e
JOIN customers c ON c.id = e.customer_id
WHERE c.merged_into_id IS NULL
  AND jsonb_typeof(c.traits -> $4::text) = 'string'
  AND lower((c.traits ->> $4::text) COLLATE "und-x-icu") = lower($5::text COLLATE "und-x-icu")
  AND (SELECT k.granted FROM consents k WHERE k.customer_id = c.id AND k.purpose = $6
       ORDER BY k.recorded_at DESC, k.id DESC LIMIT 1)`

// benchHandJoinFirst joins the window's events to the customers whose row passes the trait (a
// hash join with a scan of customers, parallel), counts per customer, then checks the consent of
// those left. Best when many customers have events in the window (internal/segment/PLANS.md).
const benchHandJoinFirst = `
SELECT e.customer_id AS id
FROM (SELECT i.customer_id FROM interactions i
      JOIN customers c ON c.id = i.customer_id
      WHERE i.event = $1 AND i.occurred_at >= $2
        AND c.merged_into_id IS NULL
        AND jsonb_typeof(c.traits -> $4::text) = 'string'
        AND lower((c.traits ->> $4::text) COLLATE "und-x-icu") = lower($5::text COLLATE "und-x-icu")
      GROUP BY i.customer_id HAVING count(*) >= $3) e
WHERE (SELECT k.granted FROM consents k WHERE k.customer_id = e.customer_id AND k.purpose = $6
       ORDER BY k.recorded_at DESC, k.id DESC LIMIT 1)`

// benchHandCompute is the hand-written membership diff around benchHandWant ($1 segment, $2 now),
// after CREATE TEMP TABLE hand_want AS benchHandWant and ANALYZE, with enable_nestloop off.
const benchHandCompute = `
WITH cur AS MATERIALIZED (
  SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL),
exited AS (
  UPDATE segment_memberships m SET exited_at = $2
  FROM (SELECT customer_id FROM cur EXCEPT ALL SELECT id FROM hand_want) g
  WHERE m.segment_id = $1 AND m.exited_at IS NULL AND m.customer_id = g.customer_id
  RETURNING 1),
entered AS (
  INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at)
  SELECT gen_random_uuid(), $1, n.id, $2
  FROM (SELECT id FROM hand_want EXCEPT ALL SELECT customer_id FROM cur) n
  RETURNING 1)
SELECT (SELECT count(*) FROM hand_want), (SELECT count(*) FROM entered), (SELECT count(*) FROM exited)`

func runBenchSegments(ctx context.Context, out io.Writer, db *sql.DB, o benchSegmentsOptions) error {
	var customers, events int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM interactions)`).Scan(&customers, &events); err != nil {
		return fmt.Errorf("error counting rows: %w", err)
	}
	days, count := o.days, o.minCount
	rule := &segment.Rule{And: []*segment.Rule{
		{Trait: &segment.TraitCondition{Key: o.traitKey, Op: segment.OpEQ, Value: o.traitValue}},
		{Event: &segment.EventCondition{Name: o.event, WithinDays: &days, Count: &segment.CountCondition{Op: segment.OpGTE, Value: count}}},
		{Consent: &segment.ConsentCondition{Purpose: o.purpose, Granted: true}},
	}}
	now := time.Now()
	svc := &segment.Service{DB: db, Now: func() time.Time { return now }}
	since := now.Add(-time.Duration(days) * 24 * time.Hour)
	handArgs := []any{o.event, since, count, o.traitKey, o.traitValue, o.purpose}
	fmt.Fprintf(out, "database: %d customers, %d interactions\nrule: %s\n", customers, events, segment.Text(rule, nil))

	// Preview, alternating compiled and each hand-written form.
	forms := []struct {
		name, sql string
		times     []time.Duration
	}{{"count first", benchHandCountFirst, nil}, {"join first", benchHandJoinFirst, nil}}
	var compiled []time.Duration
	var nCompiled int
	for i := 0; i < o.runs; i++ {
		t0 := time.Now()
		n, err := svc.Preview(ctx, rule)
		if err != nil {
			return err
		}
		compiled, nCompiled = append(compiled, time.Since(t0)), n
		for k := range forms {
			var nHand int
			t0 = time.Now()
			if err := inBenchTx(ctx, db, func(tx *sql.Tx) error {
				return tx.QueryRowContext(ctx, `SELECT count(*) FROM (`+forms[k].sql+`) w`, handArgs...).Scan(&nHand)
			}); err != nil {
				return fmt.Errorf("error running hand-written preview (%s): %w", forms[k].name, err)
			}
			forms[k].times = append(forms[k].times, time.Since(t0))
			if nCompiled != nHand {
				return fmt.Errorf("compiled preview counts %d customers, hand-written (%s) %d", nCompiled, forms[k].name, nHand)
			}
		}
	}
	best := forms[0]
	if slices.Min(forms[1].times) < slices.Min(best.times) {
		best = forms[1]
	}
	benchHandWant := best.sql
	fmt.Fprintf(out, "best hand-written form: %s (count first %s, join first %s)\n", best.name,
		slices.Min(forms[0].times).Round(time.Millisecond), slices.Min(forms[1].times).Round(time.Millisecond))
	report(out, fmt.Sprintf("preview count (%d members)", nCompiled), compiled, best.times, time.Second)

	// Full computation into two fresh segments: the first run enters every member, later runs
	// (steady state) find nothing to change. They are created as computed just now, so that a
	// running server's scheduler does not compute them too (it computes new segments at once):
	// its computation of the hand-written one raced the bench's and deadlocked on memberships.
	raw, err := json.Marshal(rule)
	if err != nil {
		return err
	}
	segA, segB := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	defer deleteBenchSegments(context.WithoutCancel(ctx), out, db, segA, segB) // also if only one was created
	stamp := now.Format("20060102T150405.000")
	for _, s := range []struct {
		id   uuid.UUID
		name string
	}{{segA, "bench compiled " + stamp}, {segB, "bench hand-written " + stamp}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status, last_computed_at)
			VALUES ($1, now(), now(), $2, $3, 3600, 0, 'ready', now())`, s.id, s.name, raw); err != nil {
			return fmt.Errorf("error creating bench segment: %w", err)
		}
	}
	var hand []time.Duration
	compiled = nil
	for i := 0; i < o.runs; i++ {
		t0 := time.Now()
		res, err := svc.Compute(ctx, segA)
		if err != nil {
			return err
		}
		compiled = append(compiled, time.Since(t0))
		t0 = time.Now()
		var m, in, ex int
		if err := inBenchTx(ctx, db, func(tx *sql.Tx) error {
			// The lock segment.Service takes to compute: any other computation of it waits.
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM segments WHERE id = $1 FOR UPDATE`, segB); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE hand_want ON COMMIT DROP AS `+benchHandWant, handArgs...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `ANALYZE hand_want`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `SET LOCAL enable_nestloop = off`); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, benchHandCompute, segB, now).Scan(&m, &in, &ex); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE segments SET member_count = $2, last_computed_at = $3, status = 'ready' WHERE id = $1`, segB, m, now)
			return err
		}); err != nil {
			return fmt.Errorf("error running hand-written compute: %w", err)
		}
		hand = append(hand, time.Since(t0))
		if i == 0 {
			if res.Members != m || res.Entered != in {
				return fmt.Errorf("compiled compute entered %d of %d, hand-written %d of %d", res.Entered, res.Members, in, m)
			}
			report(out, fmt.Sprintf("compute, first run (%d entered)", res.Entered), compiled, hand, 5*time.Second)
			compiled, hand = nil, nil
		}
	}
	if len(compiled) > 0 {
		report(out, "compute, steady state (no change)", compiled, hand, 5*time.Second)
	}

	// Incremental re-evaluation: 1,000 random live customers marked dirty, drained over every
	// segment in the database (the two above, and any others).
	var drains []time.Duration
	for i := 0; i < o.runs; i++ {
		if _, err := db.ExecContext(ctx, `INSERT INTO segment_dirty_customers (customer_id)
			SELECT id FROM customers TABLESAMPLE SYSTEM (1) WHERE merged_into_id IS NULL LIMIT 1000
			ON CONFLICT DO NOTHING`); err != nil {
			return fmt.Errorf("error marking customers dirty: %w", err)
		}
		t0 := time.Now()
		res, err := svc.Drain(ctx, 1000)
		if err != nil {
			return err
		}
		drains = append(drains, time.Since(t0))
		if i == 0 {
			fmt.Fprintf(out, "drain: %d dirty customers re-evaluated per batch\n", res.Customers)
		}
	}
	fmt.Fprintf(out, "%-40s %8s (best of %d)\n", "drain, 1,000 dirty customers", slices.Min(drains).Round(time.Millisecond), len(drains))
	if o.key == "" {
		fmt.Fprintln(out, "incremental end to end: skipped (pass --key and run cairn serve at --url)")
		return nil
	}
	return benchIncremental(ctx, out, db, svc, o, stamp)
}

// benchIncremental times probe events from their ingest 200 to their customer's membership in a
// temporary segment, under background /v1/track load.
func benchIncremental(ctx context.Context, out io.Writer, db *sql.DB, svc *segment.Service, o benchSegmentsOptions, stamp string) error {
	probeEvent := "Bench Probe " + stamp
	rule := &segment.Rule{Event: &segment.EventCondition{Name: probeEvent}}
	raw, err := json.Marshal(rule)
	if err != nil {
		return err
	}
	seg := uuid.Must(uuid.NewV7())
	if _, err := db.ExecContext(ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
		VALUES ($1, now(), now(), $2, $3, 3600, 0, 'pending')`, seg, "bench incremental "+stamp, raw); err != nil {
		return fmt.Errorf("error creating bench segment: %w", err)
	}
	defer deleteBenchSegments(context.WithoutCancel(ctx), out, db, seg)
	if _, err := svc.Compute(ctx, seg); err != nil { // ready, with no members
		return err
	}
	var lat []time.Duration
	var probeErr error
	opts := bench.Options{URL: o.url, Key: o.key, AllowRemote: o.allowRemote, Rate: o.loadRate, Log: io.Discard}
	load, err := bench.TrackWithProbe(ctx, opts, func(ctx context.Context, post bench.Poster) {
		time.Sleep(2 * time.Second) // let the load reach its rate
		for i := range o.probes {
			user := fmt.Sprintf("bench-probe-%s-%d", stamp, i)
			body, _ := json.Marshal(map[string]any{"userId": user, "event": probeEvent, "type": "track"})
			if ok, msg := post(ctx, "/v1/track", body); !ok {
				probeErr = fmt.Errorf("probe event refused: %s", msg)
				return
			}
			acked := time.Now()
			for {
				var in bool
				err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM identities i
					JOIN segment_memberships m ON m.customer_id = i.customer_id
					WHERE i.type = 'user_id' AND i.value = $1 AND m.segment_id = $2 AND m.exited_at IS NULL)`, user, seg).Scan(&in)
				if err != nil {
					probeErr = fmt.Errorf("error polling membership: %w", err)
					return
				}
				if in {
					lat = append(lat, time.Since(acked))
					break
				}
				if time.Since(acked) > 30*time.Second {
					probeErr = fmt.Errorf("probe %s not in the segment 30 s after its 200 (are workers running in cairn serve?)", user)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Until(acked.Add(time.Second)))
		}
	})
	if err != nil {
		return err
	}
	if probeErr != nil {
		return probeErr
	}
	sum := bench.Summarize(lat)
	verdict := "ok"
	if sum.P99 > 2*time.Second || load.EventsPerSec() < 0.95*float64(o.loadRate) {
		verdict = "MISSED"
	}
	fmt.Fprintf(out, "incremental end to end: %d probes, 200 → in segment p50 %s p99 %s max %s under %.0f events/s of /v1/track load (%d errors)  (target ≤ 2s at 1,000/s) %s\n",
		len(lat), sum.P50.Round(time.Millisecond), sum.P99.Round(time.Millisecond), sum.Max.Round(time.Millisecond), load.EventsPerSec(), load.Errors, verdict)
	return nil
}

// deleteBenchSegments removes the bench's segments and their memberships through
// segment.Delete, in one transaction and in id order, so a running server's computations and
// drains are waited for rather than raced. Segments never created are passed over.
func deleteBenchSegments(ctx context.Context, out io.Writer, db *sql.DB, ids ...uuid.UUID) {
	// Bounded: it runs after the bench was interrupted too, and must not hang on a stuck lock.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ids = slices.SortedFunc(slices.Values(ids), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	err := inBenchTx(ctx, db, func(tx *sql.Tx) error {
		for _, id := range ids {
			if err := segment.Delete(ctx, tx, id); err != nil && !errors.Is(err, segment.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(out, "warning: removing the bench segments failed (%v); delete the segments named \"bench …\" by hand\n", err)
	}
}

// inBenchTx runs fn with the settings segment.Service uses (work_mem, no JIT).
func inBenchTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, `SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func report(out io.Writer, what string, compiled, hand []time.Duration, target time.Duration) {
	c, h := slices.Min(compiled), slices.Min(hand)
	ratio := float64(c) / float64(h)
	verdict := "ok"
	if c > target || ratio > 1.3 {
		verdict = "MISSED"
	}
	fmt.Fprintf(out, "%-40s compiled %8s  hand-written %8s  ratio %.2f  (target ≤ %s, ≤ 1.3×) %s\n",
		what, c.Round(time.Millisecond), h.Round(time.Millisecond), ratio, target, verdict)
}
