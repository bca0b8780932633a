package segment

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	entsegment "github.com/cairn-cdp/cairn/ent/segment"
	"github.com/cairn-cdp/cairn/ent/segmentmembership"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/txn"
)

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

// Create validates and stores a segment and schedules its first computation through
// s.Scheduler, in one transaction.
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Segment, error) {
	var seg *ent.Segment
	err := txn.Run(ctx, s.DB, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		var err error
		seg, err = Create(ctx, tx, s.Scheduler, in)
		return err
	})
	return seg, err
}

// Update changes a segment and, for a new rule, schedules its computation through
// s.Scheduler, in one transaction.
func (s *Service) Update(ctx context.Context, id uuid.UUID, in UpdateInput) (*ent.Segment, error) {
	var seg *ent.Segment
	err := txn.Run(ctx, s.DB, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		var err error
		seg, err = Update(ctx, tx, s.Scheduler, id, in)
		return err
	})
	return seg, err
}

// Delete removes a segment and its membership history in one transaction (see Delete).
func (s *Service) Delete(ctx context.Context, id uuid.UUID) error {
	return txn.Run(ctx, s.DB, func(ctx context.Context, tx *sql.Tx, _ *ent.Client) error {
		return Delete(ctx, tx, id)
	})
}

// RequestCompute enqueues a full computation of segment id through s.Scheduler, in a
// transaction that sees the segment exists, and returns the job (the one already queued, when
// one is). It fails with ErrNoScheduler when s has no Scheduler.
func (s *Service) RequestCompute(ctx context.Context, id uuid.UUID) (*queue.Job, error) {
	if s.Scheduler == nil {
		return nil, ErrNoScheduler
	}
	var job *queue.Job
	err := txn.Run(ctx, s.DB, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		exists, err := client.Segment.Query().Where(entsegment.ID(id)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("error loading segment: %w", err)
		}
		if !exists {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if job, err = s.Scheduler.ScheduleCompute(ctx, tx, id); err != nil {
			return fmt.Errorf("error enqueuing segment computation: %w", err)
		}
		return nil
	})
	return job, err
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
		if _, err := sched.ScheduleCompute(ctx, tx, seg.ID); err != nil {
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
		if _, err := sched.ScheduleCompute(ctx, tx, seg.ID); err != nil {
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
	if _, err := lockSegment(ctx, tx, id); err != nil {
		return err
	}
	campaigns, err := idsOf(ctx, tx, "campaigns-of", id)
	if err != nil {
		return fmt.Errorf("error checking segment use: %w", err)
	}
	users, err := idsOf(ctx, tx, "dependents-of", id)
	if err != nil {
		return fmt.Errorf("error checking segment use: %w", err)
	}
	if len(campaigns) > 0 || len(users) > 0 {
		return fmt.Errorf("%w: %d campaign(s) and %d segment rule(s) use it", ErrInUse, len(campaigns), len(users))
	}
	client := txn.Client(tx)
	if _, err := client.SegmentMembership.Delete().Where(segmentmembership.SegmentID(id)).Exec(ctx); err != nil {
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
