// Package ingest is Cairn's Segment-compatible tracking API and the write path behind it:
// decoding and validating Segment Spec payloads (wire.Decode, wire.DecodeBatch), normalising them
// (clock-skew correction, IP truncation, consent, revenue), and a group-commit Pipeline that
// resolves identities (package identity), records consents and stores interactions for many
// concurrent requests in shared transactions, acknowledging each request only once its own
// messages are committed. NewHandler serves POST /v1/identify|track|page|screen|group|alias|
// batch|import on it; `cairn import` calls Pipeline.Submit directly.
package ingest

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/schema"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/namedsql"
	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

// ErrClosed means the pipeline is shut down and accepts no more messages.
var ErrClosed = errors.New("ingest pipeline is closed")

// ErrBusy means a request kept losing races with concurrent writers (other processes) through
// every retry and was not stored; the HTTP API answers 503 with Retry-After, and clients retry.
var ErrBusy = errors.New("ingest: concurrent writers kept conflicting; retry")

// Options tune a Pipeline; nil or zero fields take the defaults.
type Options struct {
	// KeepIP stores context.ip as sent instead of truncating it (CAIRN_KEEP_IP=true).
	KeepIP bool
	// DropContext lists top-level context fields never stored (e.g. "userAgent").
	DropContext []string
	// ConsentPurposes maps consent categories to purposes; nil means DefaultConsentPurposes.
	ConsentPurposes map[string]string
	// MaxGroupMessages caps the messages one transaction takes from the queue (default 2,000);
	// a single Submit larger than this still commits in one transaction of its own.
	MaxGroupMessages int
	// Linger is how long the writer waits for more requests when its group is small. Zero
	// (default) takes only what queued while the previous transaction ran, which already
	// batches under load without adding latency when idle.
	Linger time.Duration
	// Writers is the number of concurrent group-commit transactions (default 2). Groups about
	// the same people share their customers' KEY SHARE locks; groups that rewrite the same
	// profile wait for each other at identity's lock-customers (one ordered statement, so they
	// do not deadlock with each other), and groups that may claim the same new identifiers take turns
	// (lockClaims). Measured on 2 cores with `cairn bench ingest --seed 42 --no-copy` against
	// `cairn serve` (8 clients × 100, 20k people new to the run), same session: 1 writer 12.2k
	// events/s (35% of the CPU idle: one transaction at a time); 2 writers 14.1-14.8k (~18%
	// idle, mostly a writer waiting on a row lock or a claim of the other's); 3 writers 14.2k
	// (~10% idle, but smaller groups cost more per event). p99 ~110-270 ms, no deadlocks.
	// Before lockClaims and lock-customers, 2 writers fell to ~1.4-1.8k (claim races,
	// deadlocks), and before the segment queue was append-only some runs collapsed to ~2k
	// behind the incremental drain.
	Writers int
	// QueueRequests bounds requests waiting for a writer (default 4,096); Submit blocks beyond.
	QueueRequests int
	// Registerer receives the pipeline's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Log        *slog.Logger
}

// Result counts what happened to the messages of one Submit.
type Result struct {
	Stored     int // newly stored
	Duplicates int // already stored (same messageId), or repeated within the submission
	Dropped    int // not stored because the customer denied analytics consent
}

// Pipeline is the group-commit writer of the ingestion path.
type Pipeline struct {
	db          *sql.DB
	res         *identity.Resolver
	norm        *identity.Normalizer
	opts        Options
	purposes    map[string]string
	dropContext map[string]struct{}
	st          namedsql.Statements
	log         *slog.Logger
	m           *metrics

	mu     sync.RWMutex
	closed bool
	// excl is held shared by every commit attempt and exclusively by a request's last-resort
	// attempts, which thus never race this pipeline's other writers.
	excl sync.RWMutex
	// claims serialises, between this pipeline's writers, groups that may claim the same new
	// identifiers (see lockClaims).
	claims claimTable
	// lastDuplicate is when (unix ns) a group last met an already stored messageId.
	lastDuplicate atomic.Int64
	queue         chan *request
	wg            sync.WaitGroup

	// failHook, set by tests, makes a message fail inside the transaction.
	failHook func(*prepared) error
	// copyHook, set by tests, runs just before the group's COPY.
	copyHook func()
}

type request struct {
	ctx    context.Context
	msgs   []*prepared
	source string
	done   chan reply
	// claims are the hashes of the new identifiers the request may claim, as deferClaimed last
	// computed them (nil before); deferred counts the groups that set it aside.
	claims   []uint64
	deferred int
}

type reply struct {
	res Result
	err error
}

// NewPipeline prepares the pipeline's queries and starts its writers. res resolves identities;
// Close stops the writers after committing what was submitted.
func NewPipeline(ctx context.Context, db *sql.DB, res *identity.Resolver, opts *Options) (*Pipeline, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.MaxGroupMessages <= 0 {
		o.MaxGroupMessages = 2000
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.QueueRequests <= 0 {
		o.QueueRequests = 4096
	}
	if o.ConsentPurposes == nil {
		o.ConsentPurposes = DefaultConsentPurposes
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	st, err := namedsql.Prepare(ctx, db, queriesSQL)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{
		db: db, res: res, norm: res.Normalizer(), opts: o, st: st, log: o.Log,
		purposes: map[string]string{}, dropContext: map[string]struct{}{},
		queue: make(chan *request, o.QueueRequests),
	}
	for k, v := range o.ConsentPurposes {
		p.purposes[CategoryKey(k)] = v
	}
	for _, k := range o.DropContext {
		p.dropContext[k] = struct{}{}
	}
	if p.m, err = newMetrics(o.Registerer); err != nil {
		st.Close()
		return nil, err
	}
	for range o.Writers {
		p.wg.Add(1)
		go p.write()
	}
	return p, nil
}

// Close stops accepting messages, commits every request already submitted, and waits for the
// writers to finish.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.st.Close()
	return nil
}

// Submit validates and normalises msgs, then waits until they are durably committed (or
// rejected) and returns what happened to them. source records who sent them (the write key's
// actor, "key:<id>", or e.g. "import"). A *wire.ValidationError for any message rejects the whole
// submission and stores nothing. Messages are resolved and stored in order, in one
// transaction (shared with other submissions), so a submission is all stored or none.
// Submissions should hold at most wire.MaxBatchSize messages.
func (p *Pipeline) Submit(ctx context.Context, msgs []wire.Message, source string) (Result, error) {
	receivedAt := time.Now().UTC()
	req := &request{ctx: ctx, msgs: make([]*prepared, len(msgs)), source: source, done: make(chan reply, 1)}
	for i := range msgs {
		pm, err := p.prepare(&msgs[i], receivedAt)
		if err != nil {
			if len(msgs) > 1 {
				err = wire.Prefixed(fmt.Sprintf("batch[%d]", i), err)
			}
			return Result{}, err
		}
		req.msgs[i] = pm
	}
	if len(msgs) == 0 {
		return Result{}, nil
	}
	if err := p.enqueue(ctx, req); err != nil {
		return Result{}, err
	}
	select {
	case r := <-req.done:
		return r.res, r.err
	case <-ctx.Done():
		// The group may still commit; the caller's retry is deduplicated by messageId.
		return Result{}, fmt.Errorf("error waiting for commit: %w", ctx.Err())
	}
}

func (p *Pipeline) enqueue(ctx context.Context, req *request) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.queue <- req:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("error queueing messages: %w", ctx.Err())
	}
}

// write is one writer: it takes what is queued (up to MaxGroupMessages) and commits it as one
// group, until the queue is closed and drained. Requests deferClaimed set aside start its next
// group.
func (p *Pipeline) write() {
	defer p.wg.Done()
	var carry []*request
	for {
		group, ok := p.gather(carry)
		if !ok {
			return
		}
		group, carry = p.deferClaimed(group)
		p.commitGroup(group)
	}
}

// gather returns the next group: carry, then what is queued, waiting for a first request when
// carry is empty. ok is false once the queue is closed and drained and carry is empty.
func (p *Pipeline) gather(carry []*request) (group []*request, ok bool) {
	group = carry
	if len(group) == 0 {
		first, ok := <-p.queue
		if !ok {
			return nil, false
		}
		group = []*request{first}
	}
	n := 0
	for _, r := range group {
		n += len(r.msgs)
	}
	var linger <-chan time.Time
	if p.opts.Linger > 0 {
		linger = time.After(p.opts.Linger)
	}
	for n < p.opts.MaxGroupMessages {
		var r *request
		var ok bool
		select {
		case r, ok = <-p.queue:
		default:
			// Nothing queued: linger for more while the group is small, if configured.
			if linger == nil || n >= p.opts.MaxGroupMessages/4 {
				return group, true
			}
			select {
			case r, ok = <-p.queue:
			case <-linger:
				return group, true
			}
		}
		if !ok {
			return group, true
		}
		group = append(group, r)
		n += len(r.msgs)
	}
	return group, true
}

// maxDefers is how many groups in a row may set a request aside (deferClaimed) before it is
// committed whatever it waits for, so no request waits on other writers' claims for ever.
const maxDefers = 3

// deferClaimed splits group into the requests to commit now and those to carry into the
// writer's next group: the ones that would wait in lockClaims because another writer's open
// group claims one of their new identifiers. The writer then commits the rest at once instead
// of idling until that group ends, and by its next group the identifiers are usually known (no
// claim at all). Measured before this (`cairn bench ingest`, 2 writers, new people): writers
// spent ~15% of their time blocked in lockClaims. A request is set aside at most maxDefers
// times; when every request of the group would wait, none is set aside (lockClaims waits).
// The pipeline promises no order between requests in flight at once (with several writers, two
// of them already commit in either order); a client that needs one waits for its ack.
func (p *Pipeline) deferClaimed(group []*request) (now, later []*request) {
	if p.opts.Writers < 2 || len(group) < 2 {
		return group, nil
	}
	for _, r := range group {
		r.claims = p.claimKeys([]*request{r})
	}
	t := &p.claims
	t.mu.Lock()
	wait := make([]bool, len(group))
	waiting := 0
	for i, r := range group {
		if r.deferred < maxDefers && t.busy(r.claims) != nil {
			wait[i] = true
			waiting++
		}
	}
	t.mu.Unlock()
	if waiting == 0 || waiting == len(group) {
		return group, nil
	}
	for i, r := range group {
		if wait[i] {
			r.deferred++
			r.claims = nil // computed afresh for the next group
			later = append(later, r)
		} else {
			now = append(now, r)
		}
	}
	return now, later
}

// commitGroup commits a group and replies to each request. A group that keeps losing races
// (or fails for another reason) is split: each request is retried alone, so one bad or
// contended request cannot fail the others it was grouped with; a request that still loses
// races is then committed with this pipeline's other writers held off (exclusive), where only
// another process can still collide with it. Only then does it fail, with ErrBusy (HTTP 503
// with Retry-After) if it was contention.
func (p *Pipeline) commitGroup(group []*request) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- reply{err: fmt.Errorf("error waiting for commit: %w", err)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	results, err := p.commitRetrying(live, groupAttempts, false)
	if err == nil {
		for i, r := range live {
			r.done <- reply{res: results[i]}
		}
		return
	}
	if len(live) > 1 {
		p.log.Warn("ingest group commit failed; retrying its requests one by one", "requests", len(live), "error", err)
	}
	for _, r := range live {
		if len(live) > 1 {
			results, err = p.commitRetrying([]*request{r}, aloneAttempts, false)
		}
		if err != nil && identity.IsRetryable(err) {
			results, err = p.commitRetrying([]*request{r}, exclusiveAttempts, true)
		}
		if err != nil {
			if identity.IsRetryable(err) {
				err = fmt.Errorf("%w: %w", ErrBusy, err)
			}
			p.log.Error("ingest commit failed", "messages", len(r.msgs), "error", err)
			r.done <- reply{err: err}
			continue
		}
		r.done <- reply{res: results[0]}
	}
}

// Attempts per stage of commitGroup: the whole group, each request alone, each request with
// the pipeline's other writers held off.
const (
	groupAttempts     = 3
	aloneAttempts     = 3
	exclusiveAttempts = 4
)

// commitRetrying commits group, retrying with exponential backoff and full jitter while it
// loses races (so two writers that collided do not collide again in lockstep). exclusive
// holds off this pipeline's other writers during each attempt.
func (p *Pipeline) commitRetrying(group []*request, attempts int, exclusive bool) ([]Result, error) {
	var err error
	check := p.checkDuplicates()
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			p.m.retries.Inc()
			time.Sleep(backoff(attempt))
		}
		var results []Result
		start := time.Now()
		if exclusive {
			p.excl.Lock()
			results, err = p.commit(group, check)
			p.excl.Unlock()
		} else {
			p.excl.RLock()
			unlock := p.lockClaims(group)
			results, err = p.commit(group, check)
			unlock()
			p.excl.RUnlock()
		}
		if err == nil {
			p.m.commitSeconds.Observe(time.Since(start).Seconds())
			return results, nil
		}
		if !check && isDuplicateMessage(err) {
			// A retried message skipped the check: do it again with the check, at once; that
			// attempt does not count (no race was lost) and the cache stays valid.
			p.lastDuplicate.Store(time.Now().UnixNano())
			check = true
			attempt--
			continue
		}
		if !identity.IsRetryable(err) && !connectionLost(err) {
			return nil, err
		}
		check = true // the race may have been a concurrent retry of the same messages (or a commit whose answer was lost)
		if staleCache(err) {
			p.res.Forget() // a cached resolution may point at a customer erased meanwhile
		}
	}
	return nil, err
}

// connectionLost reports whether err is the loss of the group's database connection (a
// restart or failover of PostgreSQL, a network cut): the group is retried on another one, with
// the duplicate check, in case the connection broke after its COMMIT went through.
func connectionLost(err error) bool {
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgcopy.ErrConnLost)
}

// staleCache reports whether a retryable error may come from a stale cached resolution: a
// constraint violation (a cached customer deleted, an identifier stored meanwhile). Lock races
// (deadlocks, serialisation failures, identifiers claimed concurrently) leave the cache right —
// the identity package resets the entries it finds stale itself — so they keep it: emptying up to
// 500k entries on every lost race made every retry look everything up again.
func staleCache(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "23503" || pqErr.Code == "23505")
}

// dupCheckWindow is how long after meeting a retried (already stored) message every group
// checks its messageIds before storing; otherwise the first attempt skips that check (one index
// probe per message) and relies on the unique index, which fails the COPY on a duplicate.
const dupCheckWindow = 30 * time.Second

func (p *Pipeline) checkDuplicates() bool {
	last := p.lastDuplicate.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < dupCheckWindow
}

// isDuplicateMessage reports whether err is the unique violation of an already stored messageId.
func isDuplicateMessage(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505" && pqErr.Constraint == "interaction_message_id"
}

// backoff is the pause before retry attempt n (≥ 1): uniformly random up to 2ms·2ⁿ, at most 100ms.
func backoff(n int) time.Duration {
	ceil := min(2*time.Millisecond<<min(n, 10), 100*time.Millisecond)
	return time.Duration(1 + rand.Int64N(int64(ceil)))
}

// ref locates one message of a group.
type ref struct {
	req, idx int
	m        *prepared
}

// commit runs one group in one transaction. check looks up the group's messageIds first, so
// retried messages count as duplicates; without it a retried message fails the COPY.
func (p *Pipeline) commit(group []*request, check bool) ([]Result, error) {
	ctx := context.Background()
	results := make([]Result, len(group))

	// Messages in order, repeats within the group counted as duplicates.
	var refs []ref
	seen := map[string]bool{}
	var ids []string
	for ri, r := range group {
		for i, m := range r.msgs {
			if seen[m.messageID] {
				results[ri].Duplicates++
				continue
			}
			seen[m.messageID] = true
			refs = append(refs, ref{ri, i, m})
			ids = append(ids, m.messageID)
		}
	}

	// A connection of its own, so the COPY can reach the driver inside the transaction.
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error getting a connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("error beginning transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	stored := map[string]bool{}
	if check {
		if stored, err = p.existing(ctx, tx, ids); err != nil {
			return nil, err
		}
	}
	todo := refs[:0:0]
	for _, rf := range refs {
		if stored[rf.m.messageID] {
			results[rf.req].Duplicates++
			continue
		}
		todo = append(todo, rf)
	}

	subjects := make([]identity.Subject, len(todo))
	for i, rf := range todo {
		subjects[i] = identity.Subject{IDs: rf.m.ids, At: rf.m.occurredAt, Ref: rf.m.messageID, Previous: rf.m.previous}
	}
	batch, err := p.res.Resolve(ctx, tx, subjects)
	if err != nil {
		return nil, err
	}
	analytics, err := p.analyticsConsent(ctx, tx, batch)
	if err != nil {
		return nil, err
	}

	var rows interactionRows
	var consents consentRows
	for i, rf := range todo {
		if p.failHook != nil {
			if err := p.failHook(rf.m); err != nil {
				return nil, err
			}
		}
		cust := batch.Customer(i)
		for _, c := range rf.m.consents {
			consents.add(cust, c, group[rf.req].source, rf.m)
			if c.purpose == "analytics" {
				analytics[cust] = c.granted
			}
		}
		if granted, known := analytics[cust]; known && !granted {
			results[rf.req].Dropped++
			continue
		}
		batch.Observe(cust, rf.m.occurredAt, rf.m.traits)
		rows.add(rf.m, cust, group[rf.req].source)
		results[rf.req].Stored++
	}

	if err := batch.Flush(ctx, "system"); err != nil {
		return nil, err
	}
	if err := p.insertEvents(ctx, conn, tx, &rows, &consents); err != nil {
		return nil, err
	}
	if err := batch.Finish(ctx); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("error committing ingest transaction: %w", err)
	}
	batch.Committed()

	merges, conflicts := len(batch.Merges()), len(batch.Conflicts())
	p.m.merges.Add(float64(merges))
	p.m.conflicts.Add(float64(conflicts))
	p.m.limited.Add(float64(batch.Limited()))
	p.m.groupSize.Observe(float64(len(refs)))
	for _, r := range results {
		p.m.events.WithLabelValues("stored").Add(float64(r.Stored))
		p.m.events.WithLabelValues("duplicate").Add(float64(r.Duplicates))
		p.m.dropped.WithLabelValues("consent").Add(float64(r.Dropped))
	}
	return results, nil
}

func (p *Pipeline) existing(ctx context.Context, tx *sql.Tx, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.st.On(ctx, tx, "existing-message-ids").QueryContext(ctx, pq.StringArray(ids))
	if err != nil {
		return nil, fmt.Errorf("error checking message ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("error reading message ids: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// analyticsConsent returns the latest analytics decision per customer of the batch (merged
// profiles' decisions count for their survivor: the latest of them wins).
func (p *Pipeline) analyticsConsent(ctx context.Context, tx *sql.Tx, b *identity.Batch) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	existing := b.Existing()
	if len(existing) == 0 {
		return out, nil
	}
	ids := make([]string, len(existing))
	for i, id := range existing {
		ids[i] = id.String()
	}
	rows, err := p.st.On(ctx, tx, "latest-analytics-consents").QueryContext(ctx, pq.StringArray(ids))
	if err != nil {
		return nil, fmt.Errorf("error reading consents: %w", err)
	}
	defer rows.Close()
	latest := map[uuid.UUID]time.Time{}
	for rows.Next() {
		var id uuid.UUID
		var granted bool
		var at time.Time
		if err := rows.Scan(&id, &granted, &at); err != nil {
			return nil, fmt.Errorf("error reading consents: %w", err)
		}
		root := b.Root(id)
		if cur, ok := latest[root]; !ok || at.After(cur) {
			latest[root], out[root] = at, granted
		}
	}
	return out, rows.Err()
}

type consentRows struct {
	ids, customers, purposes, sources, recorded, proofs []string
	granted                                             []bool
}

func (c *consentRows) add(cust uuid.UUID, d consentDecision, source string, m *prepared) {
	proof, _ := json.Marshal(map[string]any{
		"messageId": m.messageID, "category": d.category, "via": "context.consent.categoryPreferences",
	})
	c.ids = append(c.ids, schema.NewID().String())
	c.customers = append(c.customers, cust.String())
	c.purposes = append(c.purposes, d.purpose)
	c.granted = append(c.granted, d.granted)
	c.sources = append(c.sources, source)
	c.recorded = append(c.recorded, m.occurredAt.Format(time.RFC3339Nano))
	c.proofs = append(c.proofs, string(proof))
}

// interactionRows are a group's messages to store, in the order they were resolved.
type interactionRows []interactionRow

type interactionRow struct {
	m      *prepared
	cust   uuid.UUID
	source string
}

func (r *interactionRows) add(m *prepared, cust uuid.UUID, source string) {
	*r = append(*r, interactionRow{m: m, cust: cust, source: source})
}

// encode writes the rows in COPY text format, columns in interaction.Columns order, rows in
// customer order: consecutive rows then share the customer's foreign key check (the same row,
// already locked by this transaction) and the index pages of its (customer_id, …) entries.
func (r interactionRows) encode(buf *pgcopy.Buffer) {
	slices.SortStableFunc(r, func(a, b interactionRow) int { return bytes.Compare(a.cust[:], b.cust[:]) })
	var ts []byte
	text := func(s string) {
		if s == "" {
			buf.Null()
		} else {
			buf.Text(s)
		}
	}
	for _, row := range r {
		m := row.m
		buf.UUID(schema.NewID())
		buf.Text(m.kind)
		text(m.event)
		text(m.properties)
		buf.Text(m.context)
		// As text with nanoseconds, which PostgreSQL rounds to its microseconds.
		ts = m.occurredAt.AppendFormat(ts[:0], time.RFC3339Nano)
		buf.TextBytes(ts)
		ts = m.receivedAt.AppendFormat(ts[:0], time.RFC3339Nano)
		buf.TextBytes(ts)
		buf.Text(m.messageID)
		text(m.revenue)
		buf.Text(row.source)
		text(m.channel)
		buf.UUID(row.cust)
		buf.EndRow()
	}
}

// insertEvents stores the group's consent decisions and interactions. Interactions go by COPY
// (measured ~30% faster than a multi-row INSERT from arrays here: 15 ms vs 20-22 ms for 600
// rows). COPY cannot skip conflicts: a messageId already stored (a client's retry, unless
// commit checked for those first, or one a concurrent transaction stored) fails the COPY with
// a unique violation, and commitRetrying retries with the check, which counts it a duplicate.
// The rows are encoded straight into one COPY buffer sent in large pieces on tx's connection
// conn: lib/pq's per-row Exec through database/sql cost ~8% of the server's CPU under `cairn
// bench ingest`, and the COPY waited on it.
func (p *Pipeline) insertEvents(ctx context.Context, conn *sql.Conn, tx *sql.Tx, r *interactionRows, c *consentRows) error {
	if len(c.ids) > 0 {
		_, err := p.st.On(ctx, tx, "insert-consents").ExecContext(ctx, pq.StringArray(c.ids), pq.StringArray(c.customers),
			pq.StringArray(c.purposes), pq.BoolArray(c.granted), pq.StringArray(c.sources), pq.StringArray(c.recorded),
			pq.StringArray(c.proofs))
		if err != nil {
			return fmt.Errorf("error inserting consents: %w", err)
		}
	}
	if len(*r) == 0 {
		return nil
	}
	var buf pgcopy.Buffer
	r.encode(&buf)
	if p.copyHook != nil {
		p.copyHook()
	}
	if _, err := pgcopy.Copy(ctx, conn, interaction.Table, interaction.Columns, &buf); err != nil {
		return fmt.Errorf("error copying interactions: %w", err)
	}
	return nil
}

// claimTable records the new identifiers (as 64-bit hashes) that this pipeline's writers are
// claiming in their open transactions; see lockClaims.
type claimTable struct {
	mu    sync.Mutex
	owner map[uint64]chan struct{} // closed when the claiming group's transaction ends
}

// lockClaims waits, when the pipeline has several writers, until no other writer's open group
// may claim any of the identifiers this group may claim as new (those the resolver does not
// know yet), records them as this group's, and returns their release. Two writers claiming the
// same new identifier at once would make one wait on the other's unique index entry while
// holding customer row locks the other may need next: measured with 2 writers on mostly new
// people (`cairn bench ingest`), that deadlocked or lost the claim and retried so often that
// throughput fell from ~11k to ~1.4k events/s.
//
// A group takes all its identifiers at once or none (it waits for one conflicting group to
// finish and tries again), so groups cannot deadlock here. The table holds exact identifiers
// (up to 64-bit hash collisions, which only cost a wait): an earlier version locked 1,024
// striped mutexes, and two groups of a few hundred new people always shared a stripe, so the
// writers took turns whenever people were new (10.1-10.9k events/s against 12.2k with exact
// claims, same run). Identifiers in the resolver's cache (most, once people have been seen)
// take no claim. The cache may be emptied between this check and Resolve: a claim then runs
// unrecorded and, if it races, is retried as without the table (the database keeps it correct).
// Before a group gets here, deferClaimed sets aside the requests that would wait, when others
// can go meanwhile.
func (p *Pipeline) lockClaims(group []*request) (unlock func()) {
	if p.opts.Writers < 2 {
		return func() {}
	}
	done := make(chan struct{})
	t := &p.claims
	var keys []uint64
	for attempt := 0; ; attempt++ {
		// Again after each wait: what the group waited for is usually known by then. The first
		// pass takes the keys deferClaimed just computed, when it did.
		keys = keys[:0]
		for _, r := range group {
			if attempt > 0 || r.claims == nil {
				keys = p.claimKeys(group)
				break
			}
			keys = append(keys, r.claims...)
		}
		for _, r := range group {
			r.claims = nil // a retry of the request computes them afresh
		}
		if len(keys) == 0 {
			return func() {}
		}
		t.mu.Lock()
		busy := t.busy(keys)
		if busy == nil {
			if t.owner == nil {
				t.owner = map[uint64]chan struct{}{}
			}
			for _, k := range keys {
				t.owner[k] = done
			}
			t.mu.Unlock()
			break
		}
		t.mu.Unlock()
		<-busy
	}
	return func() {
		t.mu.Lock()
		for _, k := range keys {
			if t.owner[k] == done {
				delete(t.owner, k)
			}
		}
		t.mu.Unlock()
		close(done)
	}
}

// busy returns the end of another group's claim on one of keys, or nil; t.mu is held.
func (t *claimTable) busy(keys []uint64) chan struct{} {
	for _, k := range keys {
		if c, ok := t.owner[k]; ok {
			return c
		}
	}
	return nil
}

// claimKeys hashes the identifiers group's messages may claim as new: those the resolver does
// not know yet.
func (p *Pipeline) claimKeys(group []*request) []uint64 {
	var subjects []identity.Subject
	for _, r := range group {
		for _, m := range r.msgs {
			subjects = append(subjects, identity.Subject{IDs: m.ids, Previous: m.previous})
		}
	}
	unknown := p.res.Unknown(subjects)
	keys := make([]uint64, 0, len(unknown))
	for _, k := range unknown {
		h := fnv.New64a()
		_, _ = h.Write([]byte(k.Type))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(k.Value))
		keys = append(keys, h.Sum64())
	}
	return keys
}
