package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestDeleteBenchSegments checks the bench's cleanup: its segments and their memberships go,
// other segments stay, a segment never created is passed over, and a computation holding a segment's lock is waited for rather than
// raced (a membership it adds cannot strand the segment).
func TestDeleteBenchSegments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	cust := uuid.Must(uuid.NewV7())
	_, err := db.ExecContext(ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), '{}', '{}', now(), now())`, cust)
	require.NoError(t, err)
	seg := func(name string) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		_, err := db.ExecContext(ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
			VALUES ($1, now(), now(), $2, '{"trait":{"key":"plan","op":"EQ","value":"pro"}}', 3600, 0, 'ready')`, id, name)
		require.NoError(t, err)
		return id
	}
	a, b, other := seg("bench a"), seg("bench b"), seg("kept")
	for _, s := range []uuid.UUID{a, other} {
		_, err := db.ExecContext(ctx, `INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) VALUES (gen_random_uuid(), $1, $2, now())`, s, cust)
		require.NoError(t, err)
	}

	never := uuid.Must(uuid.NewV7()) // a bench segment whose creation failed

	// A computation of b holds its lock and adds a member; the cleanup waits for it.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `SELECT 1 FROM segments WHERE id = $1 FOR UPDATE`, b)
	require.NoError(t, err)
	done := make(chan struct{})
	var out bytes.Buffer
	go func() {
		defer close(done)
		deleteBenchSegments(ctx, &out, db, never, b, a)
	}()
	// Once the cleanup waits for the lock, the computation adds its member and commits.
	require.Eventually(t, func() bool {
		var waiting int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, 30*time.Second, 10*time.Millisecond, "the cleanup never waited for the computation's lock")
	_, err = tx.ExecContext(ctx, `INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) VALUES (gen_random_uuid(), $1, $2, now())`, b, cust)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	<-done

	require.Empty(t, out.String(), "no warning")
	var segs, members int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM segments WHERE id = ANY($1::uuid[])`, pq.Array([]string{a.String(), b.String(), other.String()})).Scan(&segs))
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM segment_memberships`).Scan(&members))
	require.Equal(t, 1, segs, "only the other segment is left")
	require.Equal(t, 1, members, "only the other segment's membership is left")
}
