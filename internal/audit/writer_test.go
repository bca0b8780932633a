package audit_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

type testBundle struct {
	db *sql.DB
	w  *audit.Writer
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := testdb.New(t)
	w, err := audit.NewWriter(context.Background(), db)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	return &testBundle{db: db, w: w}
}

func TestWriterRecordAll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	type row struct{ Actor, Action, TargetType, TargetID, Details string }
	tests := []struct {
		name     string
		events   []audit.Event
		rollback bool
		want     []row
	}{
		{name: "no events, no rows"},
		{
			name: "a batch, actor defaulted",
			events: []audit.Event{
				{Actor: "key:k1", Action: "customer.merge", TargetType: "Customer", TargetID: "c1",
					Details: map[string]any{"from": "c0", "into": "c1"}},
				{Action: "identity.conflict", TargetType: "Customer", TargetID: "c2",
					Details: map[string]any{"reason": "user_id"}},
			},
			want: []row{
				{"key:k1", "customer.merge", "Customer", "c1", `{"from": "c0", "into": "c1"}`},
				{"system", "identity.conflict", "Customer", "c2", `{"reason": "user_id"}`},
			},
		},
		{
			name:     "rolled back with the transaction",
			events:   []audit.Event{{Action: "customer.merge", TargetType: "Customer", TargetID: "c3"}},
			rollback: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := b.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() //nolint:errcheck // a no-op after Commit
			require.NoError(t, b.w.RecordAll(ctx, tx, tt.events))
			var txTime string
			require.NoError(t, tx.QueryRowContext(ctx, `SELECT now()::text`).Scan(&txTime))
			if tt.rollback {
				require.NoError(t, tx.Rollback())
			} else {
				require.NoError(t, tx.Commit())
			}
			rows, err := b.db.QueryContext(ctx, `SELECT actor, action, target_type, target_id, details::text
				FROM audit_events WHERE occurred_at = $1::timestamptz ORDER BY action`, txTime)
			require.NoError(t, err)
			defer rows.Close()
			var got []row
			for rows.Next() {
				var r row
				require.NoError(t, rows.Scan(&r.Actor, &r.Action, &r.TargetType, &r.TargetID, &r.Details))
				got = append(got, r)
			}
			require.NoError(t, rows.Err())
			require.Equal(t, tt.want, got)
		})
	}
}
