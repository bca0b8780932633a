package segment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/pgarray"
	"github.com/cairn-cdp/cairn/internal/textcut"
)

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
	mark := params("mark-computing", map[string]any{"segment": id})
	if _, err := s.DB.ExecContext(ctx, mark.SQL, mark.Args...); err != nil {
		return nil, fmt.Errorf("error marking segment computing: %w", err)
	}
	var res *Result
	err := s.tx(ctx, func(tx *sql.Tx) error {
		raw, err := lockSegment(ctx, tx, id)
		if err != nil {
			return err
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
		fin := params("finish-computation", map[string]any{"segment": id, "members": res.Members, "now": now})
		if _, err := tx.ExecContext(ctx, fin.SQL, fin.Args...); err != nil {
			return fmt.Errorf("error updating segment: %w", err)
		}
		if res.Entered+res.Exited > 0 {
			return s.afterChange(ctx, tx, id, true)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			// Recorded outside the rolled-back transaction; River retries the job.
			if rerr := s.recordFailure(ctx, id, err); rerr != nil {
				return nil, errors.Join(err, rerr)
			}
		}
		return nil, err
	}
	return res, nil
}

// maxErrorBytes bounds segments.error.
const maxErrorBytes = 1000

// recordFailure sets the segment failed with cause as its error, even when ctx is cancelled.
func (s *Service) recordFailure(ctx context.Context, id uuid.UUID, cause error) error {
	q := params("record-failure", map[string]any{"segment": id, "error": truncate(cause.Error(), maxErrorBytes)})
	if _, err := s.DB.ExecContext(context.WithoutCancel(ctx), q.SQL, q.Args...); err != nil {
		return fmt.Errorf("error recording segment failure: %w", err)
	}
	return nil
}

// truncate returns s as valid UTF-8 (invalid bytes become U+FFFD) of at most n bytes, cut
// before a rune that would cross n.
func truncate(s string, n int) string {
	return textcut.Prefix(strings.ToValidUTF8(s, "\uFFFD"), n)
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
			f.arg(pgarray.UUIDs(p.ids))
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
	if err := setNestloop(ctx, tx, "off"); err != nil {
		return nil, fmt.Errorf("error configuring diff: %w", err)
	}
	q := bind("diff-full", fill)
	if err := tx.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&res.Members, &res.Entered, &res.Exited); err != nil {
		return nil, fmt.Errorf("error applying membership diff: %w", err)
	}
	if err := setNestloop(ctx, tx, "on"); err != nil {
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
	campaigns, err := idsOf(ctx, tx, "campaigns-of", id)
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
	users, err := idsOf(ctx, tx, "dependents-of", id)
	if err != nil {
		return fmt.Errorf("error listing dependent segments: %w", err)
	}
	for _, u := range users {
		if _, err := s.Scheduler.ScheduleCompute(ctx, tx, u); err != nil {
			return fmt.Errorf("error scheduling dependent segment: %w", err)
		}
	}
	return nil
}

// lockSegment locks segment id (FOR UPDATE) and returns its stored rule.
func lockSegment(ctx context.Context, tx *sql.Tx, id uuid.UUID) ([]byte, error) {
	q := params("lock-segment", map[string]any{"segment": id})
	var raw []byte
	err := tx.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("error locking segment: %w", err)
	}
	return raw, nil
}

func setNestloop(ctx context.Context, tx *sql.Tx, value string) error {
	q := params("set-nestloop", map[string]any{"value": value})
	_, err := tx.ExecContext(ctx, q.SQL, q.Args...)
	return err
}

// idsOf runs the named query name (campaigns-of, dependents-of) for segment id.
func idsOf(ctx context.Context, tx *sql.Tx, name string, id uuid.UUID) ([]uuid.UUID, error) {
	q := params(name, map[string]any{"segment": id})
	return queryIDs(ctx, tx, q.SQL, q.Args...)
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
