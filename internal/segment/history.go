package segment

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// HistoryDay is the entries and exits of one UTC day.
type HistoryDay struct {
	Day     time.Time
	Entered int
	Exited  int
}

// History returns entries and exits per UTC day over the last days days (1..366), oldest
// first, days without changes included.
func (s *Service) History(ctx context.Context, id uuid.UUID, days int) ([]HistoryDay, error) {
	if days < 1 || days > 366 {
		return nil, fmt.Errorf("%w: days must be between 1 and 366, got %d", ErrInvalidInput, days)
	}
	q := bind("history", func(f *frag, ph string) {
		switch ph {
		case "now":
			f.arg(s.now())
			f.sql("::timestamptz")
		case "days":
			f.arg(days)
			f.sql("::int")
		case "segment":
			f.arg(id.String())
			f.sql("::uuid")
		}
	})
	rows, err := s.DB.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("error loading segment history: %w", err)
	}
	defer rows.Close()
	var out []HistoryDay
	for rows.Next() {
		var d HistoryDay
		if err := rows.Scan(&d.Day, &d.Entered, &d.Exited); err != nil {
			return nil, fmt.Errorf("error reading segment history: %w", err)
		}
		d.Day = d.Day.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
