// Package providertest holds in-process fakes of Mailchimp, SendGrid and a webhook receiver
// (httptest servers) that behave like the documented APIs closely enough to test syncs: batch
// limits, per-member errors, async jobs, a connection limit, injected 429s and 5xx, a ledger of
// every contact each call carried, and the resulting state.
package providertest

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Call is one request the fake accepted and processed: its operation and the emails it carried
// (in request order). Requests refused by an injected fault or by the connection limit are not
// in the ledger; Requests() counts them.
type Call struct {
	Op     string
	Emails []string
}

type fault struct {
	status int
	header http.Header
}

// control is the behaviour shared by every fake: faults on command, a concurrency limit,
// latency, and the ledger.
type control struct {
	mu            sync.Mutex
	faults        []fault
	ledger        []Call
	requests      int
	inflight      int
	peak          int
	overLimit     int
	maxConcurrent int
	latency       time.Duration
}

// FailNext makes the next n requests answer status (e.g. 500, 503) without being processed.
func (c *control) FailNext(n, status int) { c.FailNextWith(n, status, nil) }

// FailNextWith is FailNext with response headers (e.g. Retry-After, X-RateLimit-Reset).
func (c *control) FailNextWith(n, status int, header http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		c.faults = append(c.faults, fault{status: status, header: header})
	}
}

// FailAfter lets the next skip requests through, then makes n answer status.
func (c *control) FailAfter(skip, n, status int) {
	c.mu.Lock()
	for range skip {
		c.faults = append(c.faults, fault{})
	}
	c.mu.Unlock()
	c.FailNext(n, status)
}

// SetLatency delays every request by d (e.g. 50 ms for benchmarks), holding its connection slot.
func (c *control) SetLatency(d time.Duration) {
	c.mu.Lock()
	c.latency = d
	c.mu.Unlock()
}

// Ledger returns a copy of every processed call, in arrival order.
func (c *control) Ledger() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Call, len(c.ledger))
	for i, call := range c.ledger {
		out[i] = Call{Op: call.Op, Emails: slices.Clone(call.Emails)}
	}
	return out
}

// Sent returns every email carried by processed calls of op, with repeats.
func (c *control) Sent(op string) []string {
	var out []string
	for _, call := range c.Ledger() {
		if call.Op == op {
			out = append(out, call.Emails...)
		}
	}
	return out
}

// Duplicates returns the emails that processed calls of op carried more than once, sorted.
func (c *control) Duplicates(op string) []string {
	seen := map[string]int{}
	for _, e := range c.Sent(op) {
		seen[e]++
	}
	var out []string
	for e, n := range seen {
		if n > 1 {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// Requests counts every request received, refused ones included.
func (c *control) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// PeakConcurrent is the most requests the fake ever held at once.
func (c *control) PeakConcurrent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

// OverLimit counts requests refused because the connection limit was exceeded.
func (c *control) OverLimit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overLimit
}

func (c *control) record(op string, emails []string) {
	c.mu.Lock()
	c.ledger = append(c.ledger, Call{Op: op, Emails: slices.Clone(emails)})
	c.mu.Unlock()
}

// wrap applies the connection limit, latency and injected faults before next.
func (c *control) wrap(tooMany func(w http.ResponseWriter), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests++
		c.inflight++
		c.peak = max(c.peak, c.inflight)
		over := c.maxConcurrent > 0 && c.inflight > c.maxConcurrent
		if over {
			c.overLimit++
		}
		latency := c.latency
		var f *fault
		if !over && len(c.faults) > 0 {
			f = &c.faults[0]
			c.faults = c.faults[1:]
		}
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.inflight--
			c.mu.Unlock()
		}()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case over:
			tooMany(w)
		case f != nil && f.status != 0:
			for k, vs := range f.header {
				w.Header()[k] = vs
			}
			writeJSON(w, f.status, map[string]any{
				"title": http.StatusText(f.status), "status": f.status, "detail": "injected failure",
				"errors": []map[string]string{{"message": "injected failure"}},
			})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}
