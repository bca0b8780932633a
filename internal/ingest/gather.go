package ingest

import (
	"time"
)

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
// claim at all); without this, writers spend ~15% of their time blocked in lockClaims on new
// people. A request is set aside at most maxDefers times; when every request of the group
// would wait, none is set aside (lockClaims waits).
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
