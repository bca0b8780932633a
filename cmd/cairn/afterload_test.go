package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// vacuumed lists which of tables have been vacuumed by hand (not by autovacuum).
func vacuumed(t *testing.T, db *sql.DB, tables ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, tbl := range tables {
		var at sql.NullTime
		require.NoError(t, db.QueryRow(`SELECT last_vacuum FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = $1`, tbl).Scan(&at))
		out[tbl] = at.Valid
	}
	return out
}

func allTrue(tables ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range tables {
		out[t] = true
	}
	return out
}

// TestBulkLoadsLeaveDatabaseReady: seed and import end with VACUUM (ANALYZE) of what they
// filled, and seed queues every segment's and RFM's computation.
func TestBulkLoadsLeaveDatabaseReady(t *testing.T) {
	t.Setenv("CAIRN_SECRET_KEY", testSecretKey)
	t.Setenv("CAIRN_LOG_LEVEL", "error")
	ctx := context.Background()

	t.Run("seed", func(t *testing.T) {
		dbURL := testdb.URL(t)
		t.Setenv("DATABASE_URL", dbURL)
		db := openURL(t, dbURL)
		seg, err := txn.NewClient(db).Segment.Create().SetName("pro").
			SetRule(map[string]any{"trait": map[string]any{"key": "plan", "op": "EQ", "value": "pro"}}).Save(ctx)
		require.NoError(t, err)
		tables := []string{"customers", "identities", "consents", "interactions"}
		require.Equal(t, map[string]bool{"customers": false, "identities": false, "consents": false, "interactions": false}, vacuumed(t, db, tables...))

		_, err = run(t, "seed", "--customers", "20", "--events", "100")
		require.NoError(t, err)
		require.Equal(t, allTrue(tables...), vacuumed(t, db, tables...))

		var segArgs []json.RawMessage
		rows, err := db.Query(`SELECT args FROM river_job WHERE kind = 'compute_segment' AND state = 'available'`)
		require.NoError(t, err)
		for rows.Next() {
			var a json.RawMessage
			require.NoError(t, rows.Scan(&a))
			segArgs = append(segArgs, a)
		}
		require.NoError(t, rows.Err())
		require.Len(t, segArgs, 1)
		var args struct {
			SegmentID uuid.UUID `json:"segment_id"`
		}
		require.NoError(t, json.Unmarshal(segArgs[0], &args))
		require.Equal(t, seg.ID, args.SegmentID)
		var rfm int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'compute_rfm' AND state = 'available'`).Scan(&rfm))
		require.Equal(t, 1, rfm)
	})

	t.Run("import", func(t *testing.T) {
		dbURL := testdb.URL(t)
		t.Setenv("DATABASE_URL", dbURL)
		db := openURL(t, dbURL)
		file := filepath.Join(t.TempDir(), "events.ndjson")
		require.NoError(t, os.WriteFile(file, []byte(
			`{"type":"track","event":"Viewed","userId":"u1","messageId":"m1","timestamp":"2026-01-01T00:00:00Z"}`+"\n"+
				`{"type":"identify","userId":"u2","messageId":"m2","traits":{"email":"u2@example.com"}}`+"\n"), 0o644))
		tables := []string{"interactions", "customers", "identities"}
		_, err := run(t, "import", "-q", file)
		require.NoError(t, err)
		require.Equal(t, allTrue(tables...), vacuumed(t, db, tables...))
	})
}
