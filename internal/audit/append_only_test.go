package audit_test

import (
	"context"
	"testing"

	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/audit"
)

// TestAuditEventsAppendOnly: the database itself refuses to change or remove audit rows,
// whoever connects (migration retention_audit's triggers).
func TestAuditEventsAppendOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, b.w.RecordAll(ctx, tx, []audit.Event{{Action: "api_key.create", TargetType: "APIKey", TargetID: "k1"}}))
	require.NoError(t, tx.Commit())

	tests := []struct {
		name, stmt string
	}{
		{name: "update", stmt: `UPDATE audit_events SET action = 'forged' WHERE target_id = 'k1'`},
		{name: "delete", stmt: `DELETE FROM audit_events WHERE target_id = 'k1'`},
		{name: "truncate", stmt: `TRUNCATE audit_events`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.db.ExecContext(ctx, tc.stmt)
			var pqErr *pq.Error
			require.ErrorAs(t, err, &pqErr)
			require.Equal(t, pq.ErrorCode("42501"), pqErr.Code, pqErr.Message)
			require.Contains(t, pqErr.Message, "append-only")
		})
	}
	var action string
	require.NoError(t, b.db.QueryRowContext(ctx, `SELECT action FROM audit_events WHERE target_id = 'k1'`).Scan(&action))
	require.Equal(t, "api_key.create", action)
}
