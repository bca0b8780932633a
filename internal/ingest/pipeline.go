package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-cdp/cairn/internal/geoip"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/namedsql"
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
	// do not deadlock with each other), and groups that may claim the same new identifiers take
	// turns (lockClaims). On 2 cores, 2 writers store ~20% more events/s than 1, which leaves a
	// third of the CPU idle; 3 are no faster than 2 (PLANS.md has the measurements).
	Writers int
	// QueueRequests bounds requests waiting for a writer (default 4,096); Submit blocks beyond.
	QueueRequests int
	// Geo locates the address of each event (context.ip, else the request's) before it is
	// truncated: the event gets context.location (unless it sent one) and its profile the trait
	// geoCountry. Nil disables geolocation (CAIRN_GEOIP=off, or no database).
	Geo Locator
	// Suppressor drops messages carrying an erased person's identifier (counted as
	// Result.Suppressed and in cairn_ingest_dropped_events_total{reason="suppressed"}); nil
	// drops none.
	Suppressor Suppressor
	// Registerer receives the pipeline's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Log        *slog.Logger
}

// Locator finds where an address is (*geoip.DB implements it).
type Locator interface {
	Lookup(netip.Addr) (geoip.Location, bool)
}

// Result counts what happened to the messages of one Submit.
type Result struct {
	Stored     int // newly stored
	Duplicates int // already stored (same messageId), or repeated within the submission
	Dropped    int // not stored because the customer denied analytics consent
	Suppressed int // not stored because an identifier is on the suppression list (erased)
	// Invalid lists the messages SubmitValid left out, in order.
	Invalid []InvalidMessage
}

// InvalidMessage is a message SubmitValid left out.
type InvalidMessage struct {
	Index int   // in the submitted slice
	Err   error // a *wire.ValidationError naming the field of the message
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
	// countries remembers the geoCountry each customer's profile was last given, so an event
	// adds the trait only when it changes (see geo.go).
	countries countryCache
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
	return p.submit(ctx, msgs, source, false)
}

// SubmitValid is Submit, except that a message that fails validation or normalisation is left
// out alone instead of rejecting the submission: Result.Invalid lists those, and the others are
// stored (all or none, as with Submit).
func (p *Pipeline) SubmitValid(ctx context.Context, msgs []wire.Message, source string) (Result, error) {
	return p.submit(ctx, msgs, source, true)
}

func (p *Pipeline) submit(ctx context.Context, msgs []wire.Message, source string, dropInvalid bool) (Result, error) {
	a := arrival{receivedAt: time.Now().UTC(), ip: clientIPFrom(ctx)}
	req := &request{ctx: ctx, msgs: make([]*prepared, 0, len(msgs)), source: source, done: make(chan reply, 1)}
	var invalid []InvalidMessage
	for i := range msgs {
		pm, err := p.prepareArrived(&msgs[i], a)
		if err != nil {
			var ve *wire.ValidationError
			if dropInvalid && errors.As(err, &ve) {
				invalid = append(invalid, InvalidMessage{Index: i, Err: err})
				continue
			}
			if len(msgs) > 1 {
				err = wire.Prefixed(fmt.Sprintf("batch[%d]", i), err)
			}
			return Result{}, err
		}
		req.msgs = append(req.msgs, pm)
	}
	if len(req.msgs) == 0 {
		return Result{Invalid: invalid}, nil
	}
	if err := p.enqueue(ctx, req); err != nil {
		return Result{}, err
	}
	select {
	case r := <-req.done:
		if r.err != nil {
			return r.res, r.err
		}
		r.res.Invalid = invalid
		return r.res, nil
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
