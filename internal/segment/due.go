package segment

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"
)

// Due returns up to limit segments whose computation is due, least recently computed first:
// pending (new, or rule changed), last computed refresh_every_seconds ago or more, or failed
// that long ago. A failed segment waits its refresh interval counted from the failure (the
// job queue has already retried it), so an invalid stored rule does not loop every tick.
func Due(ctx context.Context, tx *sql.Tx, limit int) ([]uuid.UUID, error) {
	q := bind("due", func(f *frag, _ string) { f.arg(limit) })
	ids, err := queryIDs(ctx, tx, q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("error listing due segments: %w", err)
	}
	return ids, nil
}
