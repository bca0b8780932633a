package bench

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ClosedLoop is the result of a closed-loop phase: every client sends its next request as soon
// as the previous one is answered, so the offered load is whatever the server sustains.
type ClosedLoop struct {
	Name       string
	Requests   int64 // answered requests, errors included
	Errors     int64
	FirstError string
	Elapsed    time.Duration
	Latency    Summary
	latencies  []time.Duration
	// ServerCPU and DBCPU are the CPU time the server process and the database's backends
	// used during the phase, when the bench can read them (zero otherwise).
	ServerCPU, DBCPU time.Duration
}

// ServerCPUPerRequest is ServerCPU over the answered requests (0 when unknown).
func (c ClosedLoop) ServerCPUPerRequest() time.Duration { return perEvent(c.ServerCPU, c.Requests) }

// DBCPUPerRequest is DBCPU over the answered requests (0 when unknown).
func (c ClosedLoop) DBCPUPerRequest() time.Duration { return perEvent(c.DBCPU, c.Requests) }

// PerSec is answered requests without error per second.
func (c ClosedLoop) PerSec() float64 { return rateOf(c.Requests-c.Errors, c.Elapsed) }

// Merge adds o's requests, time and latencies to c (alternating phases of one measurement).
func (c *ClosedLoop) Merge(o ClosedLoop) {
	c.Requests += o.Requests
	c.Errors += o.Errors
	if c.FirstError == "" {
		c.FirstError = o.FirstError
	}
	c.Elapsed += o.Elapsed
	c.ServerCPU += o.ServerCPU
	c.DBCPU += o.DBCPU
	c.latencies = append(c.latencies, o.latencies...)
	c.Latency = Summarize(append([]time.Duration(nil), c.latencies...))
}

// Request is one request of a closed-loop client; rng is the client's own. It returns an error
// for a failed or wrong answer.
type Request func(ctx context.Context, rng *rand.Rand) error

// RunClosedLoop runs clients goroutines each sending requests back to back for d (or until ctx
// ends) and returns the count and latency of the answers.
func RunClosedLoop(ctx context.Context, name string, clients int, d time.Duration, seed uint64, req Request) ClosedLoop {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		requests, errs atomic.Int64
		mu             sync.Mutex
		firstErr       string
		all            []time.Duration
		wg             sync.WaitGroup
	)
	began := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			var mine []time.Duration
			for ctx.Err() == nil {
				start := time.Now()
				err := req(ctx, rng)
				if ctx.Err() != nil && err != nil {
					break // cut off by the end of the phase: not an answer
				}
				mine = append(mine, time.Since(start))
				requests.Add(1)
				if err != nil {
					errs.Add(1)
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := ClosedLoop{Name: name, Requests: requests.Load(), Errors: errs.Load(), FirstError: firstErr,
		Elapsed: time.Since(began), latencies: all}
	res.Latency = Summarize(append([]time.Duration(nil), all...))
	return res
}
