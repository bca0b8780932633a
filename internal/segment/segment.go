package segment

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	entsegment "github.com/cairn-cdp/cairn/ent/segment"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Scheduler enqueues the work a membership change makes necessary, on the transaction that
// wrote the change (jobs/ implements it with River's InsertTx). A nil Scheduler enqueues nothing.
type Scheduler interface {
	// ScheduleSync enqueues an audience sync of a campaign whose segment changed. The
	// implementation decides what a campaign's status allows.
	ScheduleSync(ctx context.Context, tx *sql.Tx, campaignID uuid.UUID) error
	// ScheduleCompute enqueues a full computation of a segment whose rule uses (inSegment) a
	// segment whose members changed.
	ScheduleCompute(ctx context.Context, tx *sql.Tx, segmentID uuid.UUID) error
}

// Service computes and maintains segments.
type Service struct {
	DB        *sql.DB
	Scheduler Scheduler
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// WorkMem is set (SET LOCAL work_mem) for computations so per-customer event aggregates
	// stay in memory. Empty: "64MB".
	WorkMem string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ---- definitions -------------------------------------------------------------------------

// CreateInput is a new segment.
type CreateInput struct {
	Name                string
	Description         *string
	Rule                *Rule
	RefreshEverySeconds *int
}

// UpdateInput changes a segment; nil fields are kept.
type UpdateInput struct {
	Name                *string
	Description         *string
	Rule                *Rule
	RefreshEverySeconds *int
}

// Create validates and stores a segment (status pending) on tx, and schedules its first
// computation on the same tx (sched may be nil).
func Create(ctx context.Context, tx *sql.Tx, sched Scheduler, in CreateInput) (*ent.Segment, error) {
	client := txn.Client(tx)
	if err := checkRule(ctx, client, uuid.Nil, in.Rule); err != nil {
		return nil, err
	}
	m, err := in.Rule.Map()
	if err != nil {
		return nil, err
	}
	if err := checkRefresh(in.RefreshEverySeconds); err != nil {
		return nil, err
	}
	q := client.Segment.Create().SetName(strings.TrimSpace(in.Name)).SetRule(m).
		SetNillableDescription(in.Description).SetNillableRefreshEverySeconds(in.RefreshEverySeconds)
	seg, err := q.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("error creating segment: %w", err)
	}
	if sched != nil {
		if err := sched.ScheduleCompute(ctx, tx, seg.ID); err != nil {
			return nil, fmt.Errorf("error scheduling segment computation: %w", err)
		}
	}
	return seg, nil
}

// Update changes a segment on tx. A new rule sets the status back to pending and schedules a
// computation on the same tx (sched may be nil).
func Update(ctx context.Context, tx *sql.Tx, sched Scheduler, id uuid.UUID, in UpdateInput) (*ent.Segment, error) {
	client := txn.Client(tx)
	u := client.Segment.UpdateOneID(id)
	if in.Name != nil {
		u.SetName(strings.TrimSpace(*in.Name))
	}
	if in.Description != nil {
		u.SetDescription(*in.Description)
	}
	if err := checkRefresh(in.RefreshEverySeconds); err != nil {
		return nil, err
	}
	if in.RefreshEverySeconds != nil {
		u.SetRefreshEverySeconds(*in.RefreshEverySeconds)
	}
	if in.Rule != nil {
		if err := checkRule(ctx, client, id, in.Rule); err != nil {
			return nil, err
		}
		m, err := in.Rule.Map()
		if err != nil {
			return nil, err
		}
		u.SetRule(m).SetStatus(entsegment.StatusPending)
	}
	seg, err := u.Save(ctx)
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("error updating segment: %w", err)
	}
	if in.Rule != nil && sched != nil {
		if err := sched.ScheduleCompute(ctx, tx, seg.ID); err != nil {
			return nil, fmt.Errorf("error scheduling segment computation: %w", err)
		}
	}
	return seg, nil
}

// Delete removes a segment and its membership history on tx. It refuses (ErrInUse) while a
// campaign targets the segment or another segment's rule refers to it. The segment row is
// locked first, as computations and drains lock it, so none of them can add a membership
// between the two deletes (which then failed on the memberships' foreign key). Callers
// deleting several segments in one transaction go in id order, as drains lock them.
func Delete(ctx context.Context, tx *sql.Tx, id uuid.UUID) error {
	client := txn.Client(tx)
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM segments WHERE id = $1 FOR UPDATE`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("error locking segment: %w", err)
	}
	var campaigns, users int
	rows, err := client.QueryContext(ctx, `SELECT
		(SELECT count(*) FROM campaigns WHERE segment_id = $1),
		(SELECT count(*) FROM segments WHERE `+usesSegment+`)`, id)
	if err != nil {
		return fmt.Errorf("error checking segment use: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&campaigns, &users); err != nil {
			return fmt.Errorf("error checking segment use: %w", err)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("error checking segment use: %w", err)
	}
	if campaigns > 0 || users > 0 {
		return fmt.Errorf("%w: %d campaign(s) and %d segment rule(s) use it", ErrInUse, campaigns, users)
	}
	if _, err := client.ExecContext(ctx, `DELETE FROM segment_memberships WHERE segment_id = $1`, id); err != nil {
		return fmt.Errorf("error deleting memberships: %w", err)
	}
	if err := client.Segment.DeleteOneID(id).Exec(ctx); err != nil {
		return fmt.Errorf("error deleting segment: %w", err)
	}
	return nil
}

func checkRefresh(v *int) error {
	if v != nil && (*v < 60 || *v > 30*24*3600) {
		return fmt.Errorf("%w: refreshEverySeconds must be between 60 and 2592000, got %d", ErrInvalidInput, *v)
	}
	return nil
}

// checkRule validates r and its references: every inSegment names an existing segment, and
// following inSegment from r never leads back to self (the segment being saved).
func checkRule(ctx context.Context, client *ent.Client, self uuid.UUID, r *Rule) error {
	if r == nil {
		return &RuleError{Path: "rule", Msg: "is required"}
	}
	if err := Validate(r); err != nil {
		return err
	}
	for _, ref := range refPaths(r, "rule") {
		if ref.id == self {
			return &RuleError{Path: ref.path, Msg: "a segment cannot contain itself"}
		}
		chain, err := findCycle(ctx, client, self, ref.id)
		if err != nil {
			return err
		}
		if chain == nil {
			continue
		}
		if chain[0] == uuid.Nil {
			return &RuleError{Path: ref.path, Msg: fmt.Sprintf("segment %s does not exist", ref.id)}
		}
		parts := make([]string, len(chain))
		for i, id := range chain {
			parts[i] = id.String()
		}
		return &RuleError{Path: ref.path, Msg: "inSegment makes a cycle: this segment → " + strings.Join(parts, " → ") + " → this segment"}
	}
	return nil
}

// findCycle walks inSegment references from start. It returns the chain of ids leading back to
// self, {uuid.Nil} if start does not exist, or nil when there is no cycle.
func findCycle(ctx context.Context, client *ent.Client, self, start uuid.UUID) ([]uuid.UUID, error) {
	type item struct {
		id    uuid.UUID
		chain []uuid.UUID
	}
	seen := map[uuid.UUID]bool{}
	queue := []item{{start, []uuid.UUID{start}}}
	first := true
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.id] {
			continue
		}
		seen[it.id] = true
		seg, err := client.Segment.Get(ctx, it.id)
		if ent.IsNotFound(err) {
			if first {
				return []uuid.UUID{uuid.Nil}, nil
			}
			continue // a dangling reference further down is that segment's problem
		}
		if err != nil {
			return nil, fmt.Errorf("error loading segment %s: %w", it.id, err)
		}
		first = false
		r, err := RuleFromMap(seg.Rule)
		if err != nil {
			continue
		}
		for _, next := range References(r) {
			chain := append(append([]uuid.UUID{}, it.chain...), next)
			if next == self && self != uuid.Nil {
				return chain[:len(chain)-1], nil
			}
			queue = append(queue, item{next, chain})
		}
	}
	return nil, nil
}

type refPath struct {
	id   uuid.UUID
	path string
}

func refPaths(r *Rule, path string) []refPath {
	if r == nil {
		return nil
	}
	var out []refPath
	for i, c := range r.And {
		out = append(out, refPaths(c, fmt.Sprintf("%s.and[%d]", path, i))...)
	}
	for i, c := range r.Or {
		out = append(out, refPaths(c, fmt.Sprintf("%s.or[%d]", path, i))...)
	}
	out = append(out, refPaths(r.Not, path+".not")...)
	if r.InSegment != nil {
		out = append(out, refPath{*r.InSegment, path + ".inSegment"})
	}
	return out
}

// RuleText renders a stored segment's rule, naming the segments it refers to.
func RuleText(ctx context.Context, client *ent.Client, seg *ent.Segment) (string, error) {
	r, err := RuleFromMap(seg.Rule)
	if err != nil {
		return "", err
	}
	names := map[uuid.UUID]string{}
	if refs := References(r); len(refs) > 0 {
		segs, err := client.Segment.Query().Where(entsegment.IDIn(refs...)).All(ctx)
		if err != nil {
			return "", fmt.Errorf("error loading referenced segments: %w", err)
		}
		for _, s := range segs {
			names[s.ID] = s.Name
		}
	}
	return Text(r, names), nil
}

// ---- preview -----------------------------------------------------------------------------

// Preview counts the live customers matching r, without saving anything.
func (s *Service) Preview(ctx context.Context, r *Rule) (int, error) {
	if err := Validate(r); err != nil {
		return 0, err
	}
	var n int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		p, err := compile(ctx, tx, r, s.now())
		if err != nil {
			return err
		}
		q := p.Count()
		return tx.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("error counting segment preview: %w", err)
	}
	return n, nil
}

// compile compiles r over all customers, with JoinFirst when the planner's estimates say it
// pays: when the driving event condition's events, divided by the count a match needs (an upper
// bound on the customers counting first would read by primary key), exceed probeRatio-th of
// all customers (what joining first scans). The estimate costs one EXPLAIN (~1-3 ms). r must
// have passed Validate (a stored rule may no longer validate; DriverEvents expects a valid one).
func compile(ctx context.Context, tx *sql.Tx, r *Rule, now time.Time) (*Program, error) {
	opts := CompileOptions{Now: now}
	if q, k, ok := DriverEvents(r, now); ok {
		events, err := estimateRows(ctx, tx, q)
		if err != nil {
			return nil, err
		}
		var customers float64
		if err := tx.QueryRowContext(ctx, `SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'customers'::regclass`).Scan(&customers); err != nil {
			return nil, fmt.Errorf("error estimating customers: %w", err)
		}
		opts.JoinFirst = events/float64(k) > customers/probeRatio
	}
	return compileValid(r, opts), nil
}

// probeRatio is how many customer rows a scan reads (evaluating a trait) in the time of one
// primary key probe. Measured on 1M customers (PLANS.md): 163k probes took ~1.0 s (6.1 µs
// each), a scan of all customers with a trait condition 0.84 s (0.84 µs a row): 7.3.
const probeRatio = 7.3

// estimateRows is the planner's row estimate for q.
func estimateRows(ctx context.Context, tx *sql.Tx, q Query) (float64, error) {
	var raw []byte
	if err := tx.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+q.SQL, q.Args...).Scan(&raw); err != nil {
		return 0, fmt.Errorf("error estimating events: %w", err)
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil {
		return 0, fmt.Errorf("error reading the events estimate: %w", err)
	}
	if len(plans) == 0 {
		return 0, errors.New("error reading the events estimate: no plan")
	}
	return plans[0].Plan.Rows, nil
}

// readTx runs fn in a read-only transaction with the computation settings.
func (s *Service) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.runTx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

// tx runs fn in a transaction with the computation settings.
func (s *Service) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.runTx(ctx, nil, fn)
}

func (s *Service) runTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	return txn.RunOpts(ctx, s.DB, opts, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		if err := s.settings(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

func (s *Service) settings(ctx context.Context, tx *sql.Tx) error {
	wm := s.WorkMem
	if wm == "" {
		wm = "64MB"
	}
	// JIT compilation costs 0.1-0.5 s per query with these plans and never pays back for the
	// sub-second queries previews must be.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('work_mem', $1, true), set_config('jit', 'off', true)`, wm); err != nil {
		return fmt.Errorf("error configuring transaction: %w", err)
	}
	return nil
}

// ---- computation -------------------------------------------------------------------------

// Result is what one computation changed.
type Result struct {
	Members int // customers matching the rule (for an incremental run: among its customer ids)
	Entered int
	Exited  int
}

// Compute evaluates the segment's rule over every customer and writes the membership diff in
// one transaction: new members get a row with entered_at, leavers get exited_at, unchanged rows
// are untouched; member_count, last_computed_at and status are updated, and the campaigns of the
// segment (and segments using it) are scheduled through the Scheduler, all in that transaction.
// The segment row is locked (FOR UPDATE) for the duration, so computations of one segment and
// incremental drains never interleave.
func (s *Service) Compute(ctx context.Context, id uuid.UUID) (*Result, error) {
	if _, err := s.DB.ExecContext(ctx, `UPDATE segments SET status = 'computing' WHERE id = $1 AND status <> 'computing'`, id); err != nil {
		return nil, fmt.Errorf("error marking segment computing: %w", err)
	}
	var res *Result
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var raw []byte
		err := tx.QueryRowContext(ctx, `SELECT rule FROM segments WHERE id = $1 FOR UPDATE`, id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("error locking segment: %w", err)
		}
		r, err := ParseRule(raw)
		if err != nil {
			return err
		}
		if err := Validate(r); err != nil {
			return err
		}
		now := s.now()
		p, err := compile(ctx, tx, r, now)
		if err != nil {
			return err
		}
		if res, err = applyDiff(ctx, tx, id, p, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE segments SET member_count = $2, last_computed_at = $3,
			status = 'ready', error = NULL WHERE id = $1`, id, res.Members, now); err != nil {
			return fmt.Errorf("error updating segment: %w", err)
		}
		if res.Entered+res.Exited > 0 {
			return s.afterChange(ctx, tx, id, true)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			// Record the failure outside the rolled-back transaction; River retries the job.
			_, _ = s.DB.ExecContext(context.WithoutCancel(ctx), `UPDATE segments SET status = 'failed', error = $2, updated_at = now() WHERE id = $1`, id, truncate(err.Error(), 1000))
		}
		return nil, err
	}
	return res, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// applyDiff writes the membership diff of segment id for p: over every customer
// (want-full, analyze-want, diff-full), or only p's customer ids (diff-ids).
func applyDiff(ctx context.Context, tx *sql.Tx, id uuid.UUID, p *Program, now time.Time) (*Result, error) {
	fill := func(f *frag, ph string) {
		switch ph {
		case "want":
			p.body(f, "SELECT c.id")
		case "now":
			f.arg(now)
			f.sql("::timestamptz")
		case "segment":
			f.arg(id.String())
			f.sql("::uuid")
		case "ids":
			f.arg(uuidArray(p.ids))
			f.sql("::uuid[]")
		}
	}
	res := &Result{}
	if p.ids != nil {
		q := bind("diff-ids", fill)
		if err := tx.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&res.Members, &res.Entered, &res.Exited); err != nil {
			return nil, fmt.Errorf("error applying membership diff: %w", err)
		}
		return res, nil
	}
	for _, name := range []string{"want-full", "analyze-want"} {
		q := bind(name, fill)
		if _, err := tx.ExecContext(ctx, q.SQL, q.Args...); err != nil {
			return nil, fmt.Errorf("error evaluating segment rule: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('enable_nestloop', 'off', true)`); err != nil {
		return nil, fmt.Errorf("error configuring diff: %w", err)
	}
	q := bind("diff-full", fill)
	if err := tx.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&res.Members, &res.Entered, &res.Exited); err != nil {
		return nil, fmt.Errorf("error applying membership diff: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('enable_nestloop', 'on', true)`); err != nil {
		return nil, fmt.Errorf("error configuring diff: %w", err)
	}
	return res, nil
}

// afterChange schedules the campaigns of a segment whose members changed and, when
// dependents is set, full computations of the segments whose rules use it.
func (s *Service) afterChange(ctx context.Context, tx *sql.Tx, id uuid.UUID, dependents bool) error {
	if s.Scheduler == nil {
		return nil
	}
	campaigns, err := queryIDs(ctx, tx, `SELECT id FROM campaigns WHERE segment_id = $1 ORDER BY id`, id)
	if err != nil {
		return fmt.Errorf("error listing campaigns of segment: %w", err)
	}
	for _, c := range campaigns {
		if err := s.Scheduler.ScheduleSync(ctx, tx, c); err != nil {
			return fmt.Errorf("error scheduling campaign sync: %w", err)
		}
	}
	if !dependents {
		return nil
	}
	users, err := queryIDs(ctx, tx, `SELECT id FROM segments WHERE `+usesSegment+` ORDER BY id`, id)
	if err != nil {
		return fmt.Errorf("error listing dependent segments: %w", err)
	}
	for _, u := range users {
		if err := s.Scheduler.ScheduleCompute(ctx, tx, u); err != nil {
			return fmt.Errorf("error scheduling dependent segment: %w", err)
		}
	}
	return nil
}

func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]uuid.UUID, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ---- incremental re-evaluation -----------------------------------------------------------

// DrainResult is what one Drain did.
type DrainResult struct {
	Marks     int // queued marks taken (a customer may have several)
	Customers int // distinct customers re-evaluated
	Entered   int
	Exited    int
}

// Drain takes up to batch marks from segment_dirty_customers and re-evaluates every
// segment for just them, in one transaction: entries and exits are applied, member_count moves
// by the difference, and campaigns of changed segments are scheduled. Segments are locked in id
// order (FOR UPDATE, waiting for a running full computation) and evaluated so that a segment
// used by another's inSegment is evaluated first, so both see this batch's answer.
func (s *Service) Drain(ctx context.Context, batch int) (*DrainResult, error) {
	if batch <= 0 {
		batch = 1000
	}
	res := &DrainResult{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := bind("take-dirty", func(f *frag, ph string) { f.arg(batch) })
		ids, err := queryIDs(ctx, tx, q.SQL, q.Args...)
		if err != nil {
			return fmt.Errorf("error taking dirty customers: %w", err)
		}
		// The queue is append-only: a customer marked by several commits comes several times.
		res.Marks = len(ids)
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		ids = slices.Compact(ids)
		res.Customers = len(ids)
		if len(ids) == 0 {
			return nil
		}
		segs, err := lockSegments(ctx, tx)
		if err != nil {
			return err
		}
		now := s.now()
		for _, sg := range segs {
			p, err := Compile(sg.rule, CompileOptions{Now: now, CustomerIDs: ids})
			if err != nil {
				continue // a stored rule that no longer validates waits for its full computation
			}
			r, err := applyDiff(ctx, tx, sg.id, p, now)
			if err != nil {
				return err
			}
			if r.Entered+r.Exited == 0 {
				continue
			}
			res.Entered += r.Entered
			res.Exited += r.Exited
			if _, err := tx.ExecContext(ctx, `UPDATE segments SET member_count = member_count + $2 WHERE id = $1`, sg.id, r.Entered-r.Exited); err != nil {
				return fmt.Errorf("error updating member count: %w", err)
			}
			if err := s.afterChange(ctx, tx, sg.id, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

type lockedSegment struct {
	id   uuid.UUID
	rule *Rule
}

// lockSegments locks every segment and returns them dependencies first.
func lockSegments(ctx context.Context, tx *sql.Tx) ([]lockedSegment, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, rule FROM segments ORDER BY id FOR UPDATE`)
	if err != nil {
		return nil, fmt.Errorf("error locking segments: %w", err)
	}
	defer rows.Close()
	var all []lockedSegment
	for rows.Next() {
		var ls lockedSegment
		var raw []byte
		if err := rows.Scan(&ls.id, &raw); err != nil {
			return nil, fmt.Errorf("error reading segment: %w", err)
		}
		if ls.rule, err = ParseRule(raw); err != nil {
			continue
		}
		all = append(all, ls)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading segments: %w", err)
	}
	return dependencyOrder(all), nil
}

// dependencyOrder sorts segments so that each comes after the segments its rule refers to
// (cycles, which validation prevents, fall back to id order).
func dependencyOrder(segs []lockedSegment) []lockedSegment {
	byID := map[uuid.UUID]lockedSegment{}
	for _, s := range segs {
		byID[s.id] = s
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].id.String() < segs[j].id.String() })
	state := map[uuid.UUID]int{} // 1 visiting, 2 done
	var out []lockedSegment
	var visit func(s lockedSegment)
	visit = func(s lockedSegment) {
		if state[s.id] != 0 {
			return
		}
		state[s.id] = 1
		for _, ref := range References(s.rule) {
			if d, ok := byID[ref]; ok {
				visit(d)
			}
		}
		state[s.id] = 2
		out = append(out, s)
	}
	for _, s := range segs {
		visit(s)
	}
	return out
}

// ---- history -----------------------------------------------------------------------------

// usesSegment is the condition on segments whose rule refers to segment $1 (inSegment), other
// than $1 itself: those Delete refuses to orphan and a change of $1 recomputes.
const usesSegment = `id <> $1 AND jsonb_path_exists(rule, '$.**.inSegment ? (@ == $id)', jsonb_build_object('id', $1::text))`

// HistoryDay is the entries and exits of one UTC day.
type HistoryDay struct {
	Day     time.Time
	Entered int
	Exited  int
}

// History returns entries and exits per UTC day over the last days days (1..366), oldest
// first, days without changes included.
func (s *Service) History(ctx context.Context, id uuid.UUID, days int) ([]HistoryDay, error) {
	if days < 1 || days > 366 {
		return nil, fmt.Errorf("%w: days must be between 1 and 366, got %d", ErrInvalidInput, days)
	}
	q := bind("history", func(f *frag, ph string) {
		switch ph {
		case "now":
			f.arg(s.now())
			f.sql("::timestamptz")
		case "days":
			f.arg(days)
			f.sql("::int")
		case "segment":
			f.arg(id.String())
			f.sql("::uuid")
		}
	})
	rows, err := s.DB.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("error loading segment history: %w", err)
	}
	defer rows.Close()
	var out []HistoryDay
	for rows.Next() {
		var d HistoryDay
		if err := rows.Scan(&d.Day, &d.Entered, &d.Exited); err != nil {
			return nil, fmt.Errorf("error reading segment history: %w", err)
		}
		d.Day = d.Day.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
