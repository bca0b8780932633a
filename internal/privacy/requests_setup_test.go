package privacy_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/secret"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

const testKey = "0123456789abcdef0123456789abcdef0123456789abcdef"

type testBundle struct {
	url   string
	db    *sql.DB
	box   *secret.Box
	svc   *privacy.Service
	pipe  *ingest.Pipeline
	reg   *prometheus.Registry
	sched *fakeScheduler
	dest  *fakeDestinations
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	ctx := context.Background()
	url := testdb.URL(t)
	db, err := sql.Open("postgres", url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	box, err := secret.New(testKey)
	require.NoError(t, err)
	res, err := identity.New(ctx, db, identity.DefaultConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(res.Close)
	b := &testBundle{url: url, db: db, box: box, reg: prometheus.NewRegistry(),
		sched: &fakeScheduler{}, dest: &fakeDestinations{held: map[string]bool{}}}
	b.svc, err = privacy.New(privacy.Config{DB: db, Box: box, Scheduler: b.sched, Destinations: b.dest,
		Normalize: res.Normalize, Registerer: b.reg, SweepAfter: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, b.svc.Suppressions().Refresh(ctx))
	b.pipe, err = ingest.NewPipeline(ctx, db, res, &ingest.Options{Suppressor: b.svc.Suppressions(), Registerer: b.reg})
	require.NoError(t, err)
	t.Cleanup(func() { b.pipe.Close() })
	return b
}

func (b *testBundle) submit(t testing.TB, msgs ...wire.Message) ingest.Result {
	t.Helper()
	res, err := b.pipe.Submit(context.Background(), msgs, "test")
	require.NoError(t, err)
	return res
}

func (b *testBundle) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow(query, args...).Scan(&n))
	return n
}

func (b *testBundle) customerOf(t testing.TB, typ, value string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, b.db.QueryRow(`SELECT customer_id FROM identities WHERE type = $1 AND value = $2`, typ, value).Scan(&id))
	return id
}

// metric returns the value of a counter family's child with the label pair.
func (b *testBundle) metric(t testing.TB, name, label, value string) float64 {
	t.Helper()
	fams, err := b.reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func obj(m map[string]any) json.RawMessage {
	raw, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return raw
}

// fakeScheduler records the requests it was asked to run.
type fakeScheduler struct {
	mu      sync.Mutex
	erasure []uuid.UUID
	export  []uuid.UUID
}

func (f *fakeScheduler) ScheduleErasure(_ context.Context, _ *sql.Tx, id uuid.UUID) (*queue.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.erasure = append(f.erasure, id)
	return &queue.Job{ID: int64(len(f.erasure)), Kind: "privacy_erase"}, nil
}

func (f *fakeScheduler) ScheduleExport(_ context.Context, _ *sql.Tx, id uuid.UUID) (*queue.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.export = append(f.export, id)
	return &queue.Job{ID: int64(len(f.export)), Kind: "privacy_export"}, nil
}

// fakeDestinations stands for the campaign engine and its providers: held is the set of emails
// the destinations hold, and a call records what it was asked to remove. When campaigns is set
// (the real campaign engine), erasures go to it as well.
type fakeDestinations struct {
	mu        sync.Mutex
	held      map[string]bool
	erased    []string
	withdrawn []uuid.UUID
	campaigns privacy.Destinations
}

func (f *fakeDestinations) EraseEverywhere(ctx context.Context, tx *sql.Tx, customers []uuid.UUID, emails []string) error {
	if _, err := tx.Exec(`SELECT 1`); err != nil {
		return err
	}
	if f.campaigns != nil {
		if err := f.campaigns.EraseEverywhere(ctx, tx, customers, emails); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range emails {
		delete(f.held, e)
		f.erased = append(f.erased, e)
	}
	return nil
}

func (f *fakeDestinations) WithdrawEverywhere(_ context.Context, tx *sql.Tx, customer uuid.UUID) error {
	if _, err := tx.Exec(`SELECT 1`); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.withdrawn = append(f.withdrawn, customer)
	return nil
}

func pqArray(v []string) pq.StringArray { return pq.StringArray(v) }

func clientOf(b *testBundle) *ent.Client { return txn.NewClient(b.db) }

// eraseQueue captures the campaign engine's erase jobs (campaign.PrivacyQueue) so a test runs
// them itself; jobs/ runs them on River.
type eraseQueue struct {
	mu    sync.Mutex
	erase []erasure
}

type erasure struct {
	destination uuid.UUID
	sealed      string
}

func (q *eraseQueue) EnqueueErase(_ context.Context, _ *sql.Tx, destination uuid.UUID, sealed string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.erase = append(q.erase, erasure{destination, sealed})
	return nil
}

func (q *eraseQueue) EnqueueWithdraw(context.Context, *sql.Tx, campaign.Withdrawal) error {
	return errors.New("not expected in this test")
}
