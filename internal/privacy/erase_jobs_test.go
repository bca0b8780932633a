package privacy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// A short identifier (user_id "7") must drop only the jobs that name the person, not every job
// whose ids happen to contain the character.
func TestErasureDeletesOnlyJobsNamingThePerson(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.submit(t, wire.Message{Type: "identify", UserID: "7", AnonymousID: "jobs-anon-7"})
	profile := b.customerOf(t, "user_id", "7").String()

	insert := func(t *testing.T, kind, args, metadata string, errs ...string) int64 {
		t.Helper()
		var id int64
		require.NoError(t, b.db.QueryRow(`INSERT INTO river_job (args, metadata, errors, kind, max_attempts, queue, state, scheduled_at, priority)
			VALUES ($1::jsonb, $2::jsonb, (SELECT array_agg(e::jsonb) FROM unnest($3::text[]) AS e), $4, 3, 'default', 'scheduled', now() + interval '1 hour', 1)
			RETURNING id`, args, metadata, pqArray(errs), kind).Scan(&id))
		return id
	}
	kept := []int64{
		insert(t, "privacy_export", `{"request_id":"7a7b7c77-1777-4777-8777-777777777777"}`, `{}`),
		insert(t, "privacy_erase", `{"request_id":"17e0c3a5-0000-4000-8000-000000000007"}`, `{"note":"x7"}`),
		insert(t, "campaign_sync", `{"campaign_id":"c7c7c7c7-7c7c-47c7-87c7-c7c7c7c7c7c7","n":7}`, `{}`),
		insert(t, "test_job", `{}`, `{}`, `{"attempt":7,"error":"attempt 7 failed"}`),
	}
	gone := []int64{
		insert(t, "test_job", `{"user_id":"7"}`, `{}`),
		insert(t, "test_job", `{"people":[{"anonymous_id":"jobs-anon-7"}]}`, `{}`),
		insert(t, "test_job", `{}`, `{"customer":"`+profile+`"}`),
		insert(t, "test_job", `{}`, `{}`, `{"attempt":1,"error":"failed for `+profile+`"}`),
	}

	req, err := b.svc.RequestErasure(ctx, "key:test", "user_id", "7")
	require.NoError(t, err)
	counts, err := b.svc.Erase(ctx, req.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, counts.Profiles)
	require.Equal(t, len(gone), counts.Jobs)

	left := func(ids []int64) int {
		n := 0
		for _, id := range ids {
			n += b.count(t, `SELECT count(*) FROM river_job WHERE id = $1`, id)
		}
		return n
	}
	require.Equal(t, len(kept), left(kept), "unrelated jobs survive")
	require.Zero(t, left(gone), "jobs naming the person are deleted")
}
