package segment

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/pgarray"
)

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
			add := params("add-member-count", map[string]any{"segment": sg.id, "delta": r.Entered - r.Exited})
			if _, err := tx.ExecContext(ctx, add.SQL, add.Args...); err != nil {
				return fmt.Errorf("error updating member count: %w", err)
			}
			if err := s.afterChange(ctx, tx, sg.id, false); err != nil {
				return err
			}
		}
		return s.scheduleLeaving(ctx, tx, ids)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// scheduleLeaving schedules a delta sync of every campaign whose destination holds one of ids
// though the customer may no longer be emailed there (email_marketing withdrawn, email changed,
// profile merged): consent is written with the customer's mark in ingest's transaction, so the
// next drain removes them from the provider even when no segment membership changed.
func (s *Service) scheduleLeaving(ctx context.Context, tx *sql.Tx, ids []uuid.UUID) error {
	if s.Scheduler == nil {
		return nil
	}
	q := params("campaigns-leaving", map[string]any{"customers": pgarray.UUIDs(ids)})
	campaigns, err := queryIDs(ctx, tx, q.SQL, q.Args...)
	if err != nil {
		return fmt.Errorf("error listing campaigns holding withdrawn customers: %w", err)
	}
	for _, c := range campaigns {
		if err := s.Scheduler.ScheduleSync(ctx, tx, c); err != nil {
			return fmt.Errorf("error scheduling campaign sync: %w", err)
		}
	}
	return nil
}

type lockedSegment struct {
	id   uuid.UUID
	rule *Rule
}

// lockSegments locks every segment and returns them dependencies first.
func lockSegments(ctx context.Context, tx *sql.Tx) ([]lockedSegment, error) {
	q := params("lock-segments", nil)
	rows, err := tx.QueryContext(ctx, q.SQL, q.Args...)
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
