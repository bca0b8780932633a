package privacy

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestBatchLocksLeaveIngestAlone: while a batch transaction is open, what ingest does to the
// same customer (insert interactions and identities, update the profile) never waits for it,
// and the batch skips rows another transaction holds instead of waiting for them.
func TestBatchLocksLeaveIngestAlone(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := t.Context()
	customer := uuid.Must(uuid.NewV7())
	_, err := db.ExecContext(ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), '{}', '{}', now(), now())`, customer)
	require.NoError(t, err)
	ids := make([]uuid.UUID, 5)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		_, err := db.ExecContext(ctx, `INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, customer_id)
			VALUES ($1, 'track', 'Viewed', now() - interval '100 days', now(), $2, $3)`, ids[i], ids[i].String(), customer)
		require.NoError(t, err)
	}

	// Another transaction holds the first due row (as an identity merge moving it would).
	holder, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer holder.Rollback() //nolint:errcheck
	_, err = holder.ExecContext(ctx, `SELECT 1 FROM interactions WHERE id = $1 FOR UPDATE`, ids[0])
	require.NoError(t, err)

	batch, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer batch.Rollback() //nolint:errcheck
	_, err = batch.ExecContext(ctx, `SET LOCAL lock_timeout = '2s'`)
	require.NoError(t, err)
	var rows int64
	var last uuid.NullUUID
	var customers []byte
	require.NoError(t, batch.QueryRowContext(ctx, retentionQueries["retention-delete-batch"],
		uuid.Nil, time.Now(), "", nil, 10).Scan(&rows, &last, &customers))
	require.Equal(t, int64(4), rows, "the held row is skipped, not waited for")

	// Ingest, meanwhile, on its own connection with a short lock timeout: nothing waits.
	ingest, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer ingest.Rollback() //nolint:errcheck
	_, err = ingest.ExecContext(ctx, `SET LOCAL lock_timeout = '500ms'`)
	require.NoError(t, err)
	for _, q := range []string{
		`INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, customer_id)
			VALUES (gen_random_uuid(), 'track', 'Viewed', now(), now(), gen_random_uuid()::text, $1)`,
		`INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
			VALUES (gen_random_uuid(), 'user_id', 'u1', now(), now(), $1)`,
		`UPDATE customers SET last_seen_at = now(), traits = '{"plan": "pro"}' WHERE id = $1`,
	} {
		_, err := ingest.ExecContext(ctx, q, customer)
		require.NoError(t, err, q)
	}
	require.NoError(t, ingest.Commit())
	require.NoError(t, batch.Commit())
}
