package rfm

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Summary is the distribution of the current scores.
type Summary struct {
	// Grid holds all 25 recency × frequency cells, recency score major, both ascending
	// (R1F1, R1F2, …, R5F5), including empty ones.
	Grid []Cell
	// Labels holds every label in Labels order with its count, including zeros.
	Labels []LabelCount
	// Scored is how many customers hold RFM.
	Scored int
	// ComputedAt is the latest rfm_computed_at, nil when no customer holds RFM. Each hourly
	// computation rewrites at least the customers whose recency crossed a day, so in practice it
	// is the latest computation's time.
	ComputedAt *time.Time
}

// Cell is one recency × frequency cell of the grid.
type Cell struct {
	RecencyScore   int
	FrequencyScore int
	Count          int
}

// LabelCount is how many customers carry a label.
type LabelCount struct {
	Label string
	Count int
}

// Summary counts customers per recency × frequency cell and per label, in one scan of the
// scored customers.
func (s *Scorer) Summary(ctx context.Context) (*Summary, error) {
	rows, err := s.db.QueryContext(ctx, queries["summary"])
	if err != nil {
		return nil, fmt.Errorf("error summarising RFM: %w", err)
	}
	defer rows.Close()

	var grid [5][5]int
	byLabel := map[string]int{}
	out := &Summary{}
	for rows.Next() {
		var (
			r, f     sql.NullInt64
			label    sql.NullString
			count    int
			computed sql.NullTime
		)
		if err := rows.Scan(&r, &f, &label, &count, &computed); err != nil {
			return nil, fmt.Errorf("error reading the RFM summary: %w", err)
		}
		if computed.Valid && (out.ComputedAt == nil || computed.Time.After(*out.ComputedAt)) {
			t := computed.Time
			out.ComputedAt = &t
		}
		switch {
		case label.Valid: // the per-label grouping set
			byLabel[label.String] += count
			out.Scored += count
		case r.Valid && f.Valid && inRange(int(r.Int64)) && inRange(int(f.Int64)):
			grid[r.Int64-1][f.Int64-1] += count
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading the RFM summary: %w", err)
	}

	out.Grid = make([]Cell, 0, 25)
	for r := range 5 {
		for f := range 5 {
			out.Grid = append(out.Grid, Cell{RecencyScore: r + 1, FrequencyScore: f + 1, Count: grid[r][f]})
		}
	}
	out.Labels = make([]LabelCount, 0, len(Labels))
	for _, l := range Labels {
		out.Labels = append(out.Labels, LabelCount{Label: l, Count: byLabel[l]})
	}
	return out, nil
}
