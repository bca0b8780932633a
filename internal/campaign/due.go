package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Slot is a campaign run due at a scheduled time.
type Slot struct {
	CampaignID uuid.UUID
	At         time.Time
}

// TakeDue returns up to limit scheduled campaigns due at now and, on tx, advances each one's
// next_run_at: a cron campaign to its next slot after now (slots missed while no worker ran
// collapse into the one returned), an at campaign to none (its run completes it). The caller
// enqueues the returned slots on the same tx, so a slot is handed out exactly once; rows
// another enqueuer holds are skipped.
func TakeDue(ctx context.Context, tx *sql.Tx, now time.Time, limit int) ([]Slot, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, next_run_at, schedule_kind, coalesce(schedule_cron, ''), coalesce(schedule_timezone, '')
		FROM campaigns WHERE status = 'scheduled' AND next_run_at <= $1
		ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing due campaigns: %w", err)
	}
	type due struct {
		Slot
		kind     sql.NullString
		spec, tz string
	}
	var ds []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.CampaignID, &d.At, &d.kind, &d.spec, &d.tz); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error reading due campaign: %w", err)
		}
		ds = append(ds, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error listing due campaigns: %w", err)
	}
	out := make([]Slot, 0, len(ds))
	for _, d := range ds {
		var next *time.Time
		if d.kind.String == "cron" {
			c, err := ParseCron(d.spec, d.tz)
			if err != nil {
				// A stored schedule that no longer parses (a zone removed from tzdata): pause
				// rather than retry every tick.
				if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET status = 'paused', next_run_at = NULL, updated_at = now() WHERE id = $1`, d.CampaignID); err != nil {
					return nil, fmt.Errorf("error pausing campaign with a bad schedule: %w", err)
				}
				continue
			}
			if n := c.Next(now); !n.IsZero() {
				next = &n
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET next_run_at = $2, updated_at = now() WHERE id = $1`, d.CampaignID, next); err != nil {
			return nil, fmt.Errorf("error advancing campaign schedule: %w", err)
		}
		out = append(out, d.Slot)
	}
	return out, nil
}
