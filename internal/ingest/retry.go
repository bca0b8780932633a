package ingest

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

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
// the identity package resets the entries it finds stale itself — so they keep it: emptying it
// (up to 500k entries) would make every retry look everything up again.
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
