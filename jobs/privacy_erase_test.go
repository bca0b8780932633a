package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/secret"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestPrivacyJobsRunRequests runs erasure and export requests through a started River client,
// as cairn serve does.
func TestPrivacyJobsRunRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	box, err := secret.New("0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	sched := &PrivacyScheduler{}
	priv, err := privacy.New(privacy.Config{DB: db, Box: box, Scheduler: sched, SweepAfter: 50 * time.Millisecond})
	require.NoError(t, err)
	client, runnable, err := NewClient(Deps{DB: db, Log: slog.New(slog.DiscardHandler), Privacy: priv},
		Options{RunWorkers: true, MaxWorkers: 2, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.True(t, runnable)
	sched.Client = client
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	person := func(email string) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		_, err := db.Exec(`INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
			VALUES ($1, now(), now(), '{}', '{}', $2, now(), now())`, id, email)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
			VALUES (gen_random_uuid(), 'email', $2, now(), now(), $1)`, id, email)
		require.NoError(t, err)
		return id
	}
	waitCompleted := func(t *testing.T, req uuid.UUID) {
		t.Helper()
		require.Eventually(t, func() bool {
			var status string
			require.NoError(t, db.QueryRow(`SELECT status FROM privacy_requests WHERE id = $1`, req).Scan(&status))
			return status == "completed"
		}, 20*time.Second, 20*time.Millisecond)
	}

	t.Run("export", func(t *testing.T) {
		person("job.export@example.org")
		req, err := priv.RequestExport(ctx, "key:test", "email", "job.export@example.org")
		require.NoError(t, err)
		waitCompleted(t, req.ID)
		tok, err := priv.ExportToken(ctx, req.ID)
		require.NoError(t, err)
		doc, err := priv.DownloadExport(ctx, tok)
		require.NoError(t, err)
		require.Contains(t, string(doc), "job.export@example.org")
	})
	t.Run("erasure", func(t *testing.T) {
		id := person("job.erase@example.org")
		req, err := priv.RequestErasure(ctx, "key:test", "email", "job.erase@example.org")
		require.NoError(t, err)
		waitCompleted(t, req.ID)
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM customers WHERE id = $1`, id).Scan(&n))
		require.Zero(t, n)
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'privacy_erase'`).Scan(&n))
		require.Equal(t, 1, n, "the erasure's own job is kept (it names the request only)")
	})
}
