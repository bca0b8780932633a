package txn_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

type pingArgs struct{}

func (pingArgs) Kind() string { return "txn_test_ping" }

type testBundle struct {
	db    *sql.DB
	river *river.Client[*sql.Tx]
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := testdb.New(t)
	rc, err := river.NewClient(riverdatabasesql.New(db), &river.Config{})
	require.NoError(t, err)
	return &testBundle{db: db, river: rc}
}

func (b *testBundle) counts(t *testing.T) (customers, jobs int) {
	t.Helper()
	require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM customers`).Scan(&customers))
	require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'txn_test_ping'`).Scan(&jobs))
	return customers, jobs
}

// work creates a customer with ent (including an UpdateOne, which ent runs in a nested
// transaction) and enqueues a job, all in the one transaction.
func (b *testBundle) work(fail error) txn.Func {
	return func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		c, err := client.Customer.Create().SetEmail("a@example.com").Save(ctx)
		if err != nil {
			return err
		}
		if _, err := client.Customer.UpdateOne(c).SetPhone("+15550100").Save(ctx); err != nil {
			return err
		}
		if _, err := b.river.InsertTx(ctx, tx, pingArgs{}, nil); err != nil {
			return err
		}
		return fail
	}
}

func TestRunCommitsBoth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, txn.Run(context.Background(), b.db, b.work(nil)))
	customers, jobs := b.counts(t)
	require.Equal(t, 1, customers)
	require.Equal(t, 1, jobs)
}

func TestRunRollbackRemovesBoth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	boom := errors.New("boom")
	err := txn.Run(context.Background(), b.db, b.work(boom))
	require.ErrorIs(t, err, boom)
	customers, jobs := b.counts(t)
	require.Zero(t, customers, "the ent mutation must roll back")
	require.Zero(t, jobs, "the River job must roll back")
}
