// Package bench measures Cairn's ingestion (`cairn bench ingest`): concurrent /v1/batch clients
// and a rate-limited /v1/track phase against a running server, each reported as events/s and
// p50/p99 acknowledgement latency, and, in the same run, the rate of a raw COPY of equivalent
// rows into a scratch table indexed like interactions: the ceiling ingestion is compared with.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/cairn-cdp/cairn/internal/seed"
)

// Bounds that keep a benchmark from turning into a load test nobody asked for.
const (
	MaxDuration = 10 * time.Minute
	MaxEvents   = 20_000_000
	MaxClients  = 256
	MaxBatch    = 2500
	MaxRate     = 50_000
	MaxCopyRows = 5_000_000
)

// Options configure a run. Zero values take the defaults noted.
type Options struct {
	URL string // server base URL, default http://localhost:8080
	Key string // write key with the ingest scope (required for the HTTP phases)
	// AllowRemote permits a URL whose host is not a loopback address.
	AllowRemote bool

	Clients  int           // concurrent /v1/batch clients, default 8
	Batch    int           // messages per batch, default 100
	Duration time.Duration // batch phase length, default 20s
	Events   int           // stop the batch phase after this many events (0: duration only)

	Rate          int           // /v1/track requests per second, default 1000 (<0: skip the phase)
	TrackDuration time.Duration // default 10s
	TrackWorkers  int           // goroutines issuing /v1/track requests, default 64

	People int    // simulated people, default 20,000
	Seed   uint64 // payload randomness; 0 picks one

	// DB receives the COPY baseline; nil skips it.
	DB       *sql.DB
	CopyRows int // default 300,000

	// Skip the HTTP phases (measure COPY only) or the COPY phase.
	SkipHTTP bool

	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Client is the HTTP client; nil builds one sized for the clients.
	Client *http.Client
}

// Phase is the outcome of one HTTP phase.
type Phase struct {
	Name     string
	Requests int64
	Events   int64
	Errors   int64
	// FirstError is the first failure seen (status and body, or the transport error).
	FirstError string
	Elapsed    time.Duration
	Latency    Summary
	// CPU is the machine's busy CPU time during the phase, all cores (0 where /proc/stat is
	// missing): the server's, PostgreSQL's and this client's when they share the machine.
	CPU time.Duration
}

// EventsPerSec is the acknowledged events per second.
func (p Phase) EventsPerSec() float64 { return rateOf(p.Events, p.Elapsed) }

// CPUPerEvent is the machine's busy CPU time per acknowledged event (0 when unknown).
func (p Phase) CPUPerEvent() time.Duration { return perEvent(p.CPU, p.Events) }

// Cores is how many cores were busy on average during the phase (0 when unknown).
func (p Phase) Cores() float64 { return coresBusy(p.CPU, p.Elapsed) }

// CopyResult is the raw COPY baseline.
type CopyResult struct {
	Rows     int64
	Bytes    int64 // encoded row data sent
	Elapsed  time.Duration
	RowBytes float64       // average stored row size (pg_column_size)
	CPU      time.Duration // the machine's busy CPU time during the COPY (see Phase.CPU)
}

// CPUPerRow is the machine's busy CPU time per row copied (0 when unknown).
func (c CopyResult) CPUPerRow() time.Duration { return perEvent(c.CPU, c.Rows) }

// RowsPerSec is the COPY rate.
func (c CopyResult) RowsPerSec() float64 { return rateOf(c.Rows, c.Elapsed) }

// Cores is how many cores were busy on average during the COPY (0 when unknown).
func (c CopyResult) Cores() float64 { return coresBusy(c.CPU, c.Elapsed) }

// Report is a whole run.
type Report struct {
	Batch *Phase
	Track *Phase
	Copy  *CopyResult
	// Cores is the machine's core count, as /proc/stat lists them (0 when unknown).
	Cores int
}

// Ratio is the batch phase's events/s over COPY's rows/s (0 when either is missing).
func (r *Report) Ratio() float64 {
	if r.Batch == nil || r.Copy == nil || r.Copy.RowsPerSec() == 0 {
		return 0
	}
	return r.Batch.EventsPerSec() / r.Copy.RowsPerSec()
}

// FullCPURatio is the ratio the batch phase would reach with all cores of the machine busy
// at its measured CPU per event: cores / CPU per event, over COPY's rows/s (0 when either is
// unknown). Set beside Ratio, it separates the two halves of a gap: idle cores (scheduling,
// lock waits, round trips) and the CPU each event costs.
func (r *Report) FullCPURatio() float64 {
	if r.Batch == nil || r.Copy == nil || r.Copy.RowsPerSec() == 0 || r.Cores <= 0 {
		return 0
	}
	per := r.Batch.CPUPerEvent()
	if per <= 0 {
		return 0
	}
	return float64(r.Cores) / per.Seconds() / r.Copy.RowsPerSec()
}

func coresBusy(cpu, elapsed time.Duration) float64 {
	if cpu <= 0 || elapsed <= 0 {
		return 0
	}
	return cpu.Seconds() / elapsed.Seconds()
}

func rateOf(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (o *Options) defaults() error {
	if o.URL == "" {
		o.URL = "http://localhost:8080"
	}
	o.URL = strings.TrimRight(o.URL, "/")
	if o.Clients == 0 {
		o.Clients = 8
	}
	if o.Batch == 0 {
		o.Batch = 100
	}
	if o.Duration == 0 {
		o.Duration = 20 * time.Second
	}
	if o.Rate == 0 {
		o.Rate = 1000
	}
	if o.TrackDuration == 0 {
		o.TrackDuration = 10 * time.Second
	}
	if o.TrackWorkers == 0 {
		o.TrackWorkers = 64
	}
	if o.People == 0 {
		o.People = 20_000
	}
	if o.CopyRows == 0 {
		o.CopyRows = 300_000
	}
	if o.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, c := range b {
			o.Seed = o.Seed<<8 | uint64(c)
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	switch {
	case o.Clients < 1 || o.Clients > MaxClients:
		return fmt.Errorf("clients must be between 1 and %d", MaxClients)
	case o.Batch < 1 || o.Batch > MaxBatch:
		return fmt.Errorf("batch must be between 1 and %d (the API's limit)", MaxBatch)
	case o.Duration < 0 || o.Duration > MaxDuration || o.TrackDuration < 0 || o.TrackDuration > MaxDuration:
		return fmt.Errorf("durations must be at most %s", MaxDuration)
	case o.Events < 0 || o.Events > MaxEvents:
		return fmt.Errorf("events must be between 0 and %d", MaxEvents)
	case o.Rate > MaxRate:
		return fmt.Errorf("rate must be at most %d requests/s", MaxRate)
	case o.CopyRows < 1 || o.CopyRows > MaxCopyRows:
		return fmt.Errorf("copy rows must be between 1 and %d", MaxCopyRows)
	case o.People < 1:
		return errors.New("people must be at least 1")
	}
	if o.SkipHTTP {
		return nil
	}
	if o.Key == "" {
		return errors.New("a write key (scope ingest) is required: create one with `cairn keys create --name bench --scopes ingest`")
	}
	return CheckTarget(o.URL, o.AllowRemote)
}

// Validate reports what Run would refuse in opts (with its defaults applied), so a command can
// check its flags before any other work.
func (o Options) Validate() error { return o.defaults() }

// CheckTarget refuses server URLs that are not http(s), and non-loopback hosts unless
// allowRemote (the check Run applies).
func CheckTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid --url %q: want http://host:port", raw)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to load %s: not a loopback address (pass --allow-remote to benchmark a server you run elsewhere)", host)
}

// Run runs the phases in turn: batch, track, COPY.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Cores: machineCores()}
	run := runID(opts.Seed)
	if !opts.SkipHTTP {
		h, err := newHTTPRunner(ctx, opts, run, opts.Clients+opts.TrackWorkers)
		if err != nil {
			return nil, err
		}
		batch := h.batchPhase(ctx)
		rep.Batch = &batch
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if opts.Rate > 0 {
			track := h.trackPhase(ctx)
			rep.Track = &track
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
	}
	if opts.DB != nil {
		res, err := copyBaseline(ctx, opts.DB, opts.CopyRows, opts.People, opts.Seed, opts.Log)
		if err != nil {
			return rep, err
		}
		rep.Copy = res
	}
	return rep, nil
}

func runID(rngSeed uint64) string {
	var b [4]byte
	for i := range b {
		b[i] = byte(seed.Mix(rngSeed) >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

func basicAuth(key string) string {
	// The write key is the username, the password empty (Segment's convention).
	req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	req.SetBasicAuth(key, "")
	return req.Header.Get("Authorization")
}

// newHTTPRunner returns a runner with opts.Client, or a client keeping conns connections, after
// checking the server accepts an event.
func newHTTPRunner(ctx context.Context, opts Options, run string, conns int) (*httpRunner, error) {
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second,
		}}
	}
	h := &httpRunner{opts: opts, client: client, run: run, auth: basicAuth(opts.Key)}
	if err := h.check(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

type httpRunner struct {
	opts   Options
	client *http.Client
	run    string
	auth   string
}

// post sends body to path and reports whether the server acknowledged it, with an error text
// otherwise.
func (h *httpRunner) post(ctx context.Context, path string, body []byte) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.opts.URL+path, bytes.NewReader(body))
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", h.auth)
	resp, err := h.client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("%s %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return true, ""
}

// check sends one event first, so a wrong URL or key fails fast and clearly.
func (h *httpRunner) check(ctx context.Context) error {
	p := NewPayloads(h.run, h.opts.People, h.opts.Seed, 1<<32)
	ok, msg := h.post(ctx, "/v1/batch", p.Batch(1))
	if !ok {
		return fmt.Errorf("the server did not accept a test event (is `cairn serve` running at %s with the ingest API, and is the key an ingest key?): %s", h.opts.URL, msg)
	}
	return nil
}

// phaseState accumulates one phase's counts from many goroutines.
type phaseState struct {
	requests, events, errors atomic.Int64
	firstErr                 sync.Once
	firstMsg                 string
	lat                      Latencies
}

func (s *phaseState) record(ok bool, msg string, events int, d time.Duration) {
	s.requests.Add(1)
	if !ok {
		s.errors.Add(1)
		s.firstErr.Do(func() { s.firstMsg = msg })
		return
	}
	s.events.Add(int64(events))
	s.lat.Add(d)
}

func (s *phaseState) phase(name string, elapsed time.Duration) Phase {
	return Phase{Name: name, Requests: s.requests.Load(), Events: s.events.Load(), Errors: s.errors.Load(),
		FirstError: s.firstMsg, Elapsed: elapsed, Latency: s.lat.Summary()}
}

// progress prints the phase's running totals every second until stop is closed.
func progress(w io.Writer, name string, s *phaseState, began time.Time, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			el := time.Since(began)
			fmt.Fprintf(w, "bench: %s %4.0fs: %d events, %.0f events/s, %d errors\n",
				name, el.Seconds(), s.events.Load(), rateOf(s.events.Load(), el), s.errors.Load())
		}
	}
}

// batchPhase runs opts.Clients closed-loop clients sending /v1/batch until the duration or the
// event budget runs out.
func (h *httpRunner) batchPhase(ctx context.Context) Phase {
	o := h.opts
	name := fmt.Sprintf("batch (%d clients × %d)", o.Clients, o.Batch)
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var s phaseState
	var budget atomic.Int64
	budget.Store(int64(o.Events))
	began := time.Now()
	cpu := startCPU()
	stop := make(chan struct{})
	go progress(o.Log, "batch", &s, began, stop)
	var wg sync.WaitGroup
	for c := range o.Clients {
		wg.Go(func() {
			p := NewPayloads(h.run, o.People, o.Seed, uint64(c))
			for ctx.Err() == nil {
				n := o.Batch
				if o.Events > 0 {
					left := budget.Add(-int64(n))
					if left < 0 {
						n += int(left)
						if n <= 0 {
							return
						}
					}
				}
				body := p.Batch(n)
				t0 := time.Now()
				ok, msg := h.post(ctx, "/v1/batch", body)
				if ctx.Err() != nil && !ok {
					return // cut off by the deadline: neither an ack nor a failure
				}
				s.record(ok, msg, n, time.Since(t0))
			}
		})
	}
	wg.Wait()
	close(stop)
	ph := s.phase(name, time.Since(began))
	ph.CPU = cpu.elapsed()
	return ph
}

// trackPhase sends single /v1/track events at opts.Rate requests/s (open loop, bounded by the
// workers in flight) for opts.TrackDuration.
func (h *httpRunner) trackPhase(ctx context.Context) Phase {
	o := h.opts
	name := fmt.Sprintf("track (%d/s target)", o.Rate)
	ctx, cancel := context.WithTimeout(ctx, o.TrackDuration)
	defer cancel()
	lim := rate.NewLimiter(rate.Limit(o.Rate), max(1, o.Rate/100))
	var s phaseState
	began := time.Now()
	cpu := startCPU()
	stop := make(chan struct{})
	go progress(o.Log, "track", &s, began, stop)
	var wg sync.WaitGroup
	for wk := range o.TrackWorkers {
		wg.Go(func() {
			p := NewPayloads(h.run, o.People, o.Seed, uint64(1000+wk))
			for {
				if err := lim.Wait(ctx); err != nil {
					return
				}
				body := p.Track()
				t0 := time.Now()
				ok, msg := h.post(ctx, "/v1/track", body)
				if ctx.Err() != nil && !ok {
					return
				}
				s.record(ok, msg, 1, time.Since(t0))
			}
		})
	}
	wg.Wait()
	close(stop)
	ph := s.phase(name, time.Since(began))
	ph.CPU = cpu.elapsed()
	return ph
}

// Poster sends body to the server's path (e.g. "/v1/track") with the run's write key and
// reports whether it was acknowledged (200), with an error text otherwise.
type Poster func(ctx context.Context, path string, body []byte) (ok bool, msg string)

// TrackWithProbe runs only the track phase (opts.Rate events/s) as background load for as long
// as probe runs, calling probe alongside it with a Poster on the same server, and returns the
// load's phase (its rate covers the whole time probe ran). opts.TrackDuration bounds the load
// (default MaxDuration); probe should return before it.
func TrackWithProbe(ctx context.Context, opts Options, probe func(ctx context.Context, post Poster)) (*Phase, error) {
	if opts.Rate <= 0 {
		return nil, errors.New("the background load needs a positive rate")
	}
	if opts.TrackDuration == 0 {
		opts.TrackDuration = MaxDuration
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	h, err := newHTTPRunner(ctx, opts, runID(opts.Seed), opts.TrackWorkers+1)
	if err != nil {
		return nil, err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		defer stopLoad()
		probe(ctx, h.post)
	}()
	track := h.trackPhase(loadCtx)
	<-probed // the probe's results are the caller's once this returns
	return &track, ctx.Err()
}
