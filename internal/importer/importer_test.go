package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

type testBundle struct {
	db   *sql.DB
	pipe *ingest.Pipeline
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := testdb.New(t)
	res, err := identity.New(ctx, db, identity.DefaultConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(res.Close)
	pipe, err := ingest.NewPipeline(ctx, db, res, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pipe.Close()) })
	return &testBundle{db: db, pipe: pipe}
}

func (b *testBundle) importFile(t *testing.T, path string, opts Options) *Summary {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	if opts.Format == "" {
		opts.Format, err = DetectFormat(path)
		require.NoError(t, err)
	}
	sum, err := Import(t.Context(), f, b.pipe, opts)
	require.NoError(t, err)
	return sum
}

func (b *testBundle) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRowContext(t.Context(), q, args...).Scan(&n))
	return n
}

func lines(rs []Rejection) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Line
	}
	return out
}

func TestImportNDJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sum := b.importFile(t, "testdata/events.ndjson", Options{})

	require.Equal(t, 11, sum.Records)
	require.Equal(t, 7, sum.Stored)
	require.Equal(t, 1, sum.Duplicates, "line 11 repeats line 2's messageId")
	require.Equal(t, 3, sum.RejectedCount)
	require.Equal(t, []int{6, 7, 9}, lines(sum.Rejected))
	require.Contains(t, sum.Rejected[0].Reason, "userId")
	require.Contains(t, sum.Rejected[1].Reason, "malformed JSON")
	require.Contains(t, sum.Rejected[2].Reason, "event")
	require.Equal(t, 11, sum.Committed)

	require.Equal(t, 7, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`),
		"anon-1/user-1/ada, anon-2, anon-3")
	// Anonymous browsing and the identified order landed on one profile, found by the email.
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM interactions i JOIN identities e ON e.customer_id = i.customer_id
		WHERE e.type = 'email' AND e.value = 'ada@example.com'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Order Completed' AND revenue = 42.5`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM interactions i JOIN identities e ON e.customer_id = i.customer_id
		WHERE e.type = 'anonymous_id' AND e.value = 'anon-2' AND i.context->'library'->>'name' = 'replay'`),
		"a batch line's context reaches its messages")
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sum := b.importFile(t, "testdata/events.csv", Options{})

	require.Equal(t, 7, sum.Records)
	require.Equal(t, 5, sum.Stored)
	require.Equal(t, []int{5, 8}, lines(sum.Rejected))
	require.Contains(t, sum.Rejected[0].Reason, "userId")
	require.Contains(t, sum.Rejected[1].Reason, "fields")

	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM customers WHERE merged_into_id IS NULL`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE email = 'grace@example.com' AND traits->>'plan' = 'pro'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Order Completed'
		AND revenue = 19.99 AND properties->>'zip' = '01234' AND jsonb_typeof(properties->'revenue') = 'number'`),
		"numbers become numbers, zero-padded codes stay strings")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE kind = 'page' AND context->'page'->>'path' = '/pricing'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Quoted, Event'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Signed Up' AND message_id LIKE 'import-%'`))
}

func TestReimportStoresOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, file := range []string{"testdata/events.ndjson", "testdata/events.csv"} {
		t.Run(file, func(t *testing.T) {
			first := b.importFile(t, file, Options{})
			before := b.count(t, `SELECT count(*) FROM interactions`)
			again := b.importFile(t, file, Options{})
			require.Zero(t, again.Stored, file)
			require.Equal(t, first.Stored+first.Duplicates, again.Duplicates, file)
			require.Equal(t, before, b.count(t, `SELECT count(*) FROM interactions`), file)
			require.Equal(t, lines(first.Rejected), lines(again.Rejected), file)
		})
	}
}

func TestImportSkip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sum := b.importFile(t, "testdata/events.ndjson", Options{Skip: 5})
	require.Equal(t, 5, sum.Skipped)
	require.Equal(t, 6, sum.Records)
	require.Equal(t, []int{6, 7, 9}, lines(sum.Rejected))
	require.Equal(t, 4, sum.Stored, "lines 8 (two messages), 10 and 11")
	require.Zero(t, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'm-1'`))

	csvSum := b.importFile(t, "testdata/events.csv", Options{Skip: 4})
	require.Equal(t, 4, csvSum.Skipped, "the header is not a record")
	require.Equal(t, 2, csvSum.Stored)
	require.Equal(t, []int{8}, lines(csvSum.Rejected))
}

// flaky fails every submission after the first `ok` with a transport-like error.
type flaky struct {
	inner Submitter
	ok    int64
	calls atomic.Int64
}

func (f *flaky) Submit(ctx context.Context, msgs []wire.Message, source string) (ingest.Result, error) {
	if f.calls.Add(1) > f.ok {
		return ingest.Result{}, errors.New("connection reset")
	}
	return f.inner.Submit(ctx, msgs, source)
}

func TestInterruptedImportResumes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data, err := os.ReadFile("testdata/events.ndjson")
	require.NoError(t, err)
	opts := Options{Format: FormatNDJSON, BatchSize: 2, Concurrency: 1}

	sum, err := Import(t.Context(), strings.NewReader(string(data)), &flaky{inner: b.pipe, ok: 1}, opts)
	require.ErrorContains(t, err, "connection reset")
	require.Equal(t, 3, sum.Committed, "the first batch held lines 1-2, and blank line 3 came with it")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM interactions`))

	opts.Skip = sum.Committed
	// A resumed import that fails before its first commit still reports the skipped records as
	// committed, so its own resume hint keeps the skip.
	again, err := Import(t.Context(), strings.NewReader(string(data)), &flaky{inner: b.pipe}, opts)
	require.ErrorContains(t, err, "connection reset")
	require.Equal(t, 3, again.Committed)

	rest, err := Import(t.Context(), strings.NewReader(string(data)), b.pipe, opts)
	require.NoError(t, err)
	require.Equal(t, 11, rest.Committed)
	require.Equal(t, 7, b.count(t, `SELECT count(*) FROM interactions`), "the same as one uninterrupted import")
}

func TestLargeImportIsBatched(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var sb strings.Builder
	for i := range 1200 {
		sb.WriteString(`{"type":"track","anonymousId":"a-`)
		sb.WriteString(string(rune('a' + i%20)))
		sb.WriteString(`","event":"E","messageId":"big-`)
		sb.WriteString(strings.Repeat("x", i%3))
		sb.WriteString(itoa(i))
		sb.WriteString("\"}\n")
	}
	cs := &countingSubmitter{inner: b.pipe}
	sum, err := Import(t.Context(), strings.NewReader(sb.String()), cs,
		Options{Format: FormatNDJSON, BatchSize: 100, Concurrency: 3})
	require.NoError(t, err)
	require.Equal(t, 1200, sum.Stored)
	require.GreaterOrEqual(t, cs.calls.Load(), int64(12), "submissions lost to races are retried")
	require.EqualValues(t, 100, cs.largest.Load())
	require.Equal(t, 1200, sum.Committed)
	require.Equal(t, 20, b.count(t, `SELECT count(*) FROM customers`))
}

type countingSubmitter struct {
	inner          Submitter
	calls, largest atomic.Int64
}

func (c *countingSubmitter) Submit(ctx context.Context, msgs []wire.Message, source string) (ingest.Result, error) {
	c.calls.Add(1)
	for {
		old := c.largest.Load()
		if int64(len(msgs)) <= old || c.largest.CompareAndSwap(old, int64(len(msgs))) {
			break
		}
	}
	return c.inner.Submit(ctx, msgs, source)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestCSVHeaderErrors(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"type,userId,bogus\n":                       "unknown column",
		"type,userId,user_id\n":                     "both set userId",
		"type,userId,properties.a,properties.a.b\n": "both a value and an object",
		"type,userId,meta.x\n":                      "dotted columns",
		"":                                          "empty",
		"type,userId,properties.\n":                 "empty path segment",
	} {
		t.Run(fmt.Sprintf("header %q", header), func(t *testing.T) {
			t.Parallel()
			_, err := Import(t.Context(), strings.NewReader(header), nil, Options{Format: FormatCSV})
			require.ErrorContains(t, err, want, "header %q", header)
		})
	}
}

func TestDetectFormat(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"a.csv": FormatCSV, "A.CSV": FormatCSV, "x.ndjson": FormatNDJSON, "x.jsonl": FormatNDJSON, "x.json": FormatNDJSON} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := DetectFormat(name)
			require.NoError(t, err)
			require.Equal(t, want, got, name)
		})
	}
	_, err := DetectFormat("events.txt")
	require.ErrorContains(t, err, "--format")
}

// racing loses the first `losses` submissions to a concurrent transaction.
type racing struct {
	inner  Submitter
	losses int64
	calls  atomic.Int64
}

func (r *racing) Submit(ctx context.Context, msgs []wire.Message, source string) (ingest.Result, error) {
	if r.calls.Add(1) <= r.losses {
		return ingest.Result{}, fmt.Errorf("commit: %w", identity.ErrConcurrentChange)
	}
	return r.inner.Submit(ctx, msgs, source)
}

func TestImportRetriesLostRaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := &racing{inner: b.pipe, losses: 3}
	f, err := os.Open("testdata/events.ndjson")
	require.NoError(t, err)
	defer f.Close()
	sum, err := Import(t.Context(), f, sub, Options{Format: FormatNDJSON})
	require.NoError(t, err)
	require.Equal(t, 7, sum.Stored)
	require.EqualValues(t, 4, sub.calls.Load())
}

// TestOversizedRecordsRejected: a record over the API's 32 KB per message is refused with its
// line number, in CSV as in NDJSON (the API refuses it too), and nothing of it is stored.
func TestOversizedRecordsRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := strings.Repeat("x", wire.MaxEventBytes)
	dir := t.TempDir()
	for name, f := range map[string]struct {
		content string
		line    int
	}{
		"big.csv":    {"type,userId,event,properties.note\ntrack,u1,Small,fine\ntrack,u2,Big," + big + "\n", 3},
		"big.ndjson": {`{"type":"track","userId":"u1","event":"Small"}` + "\n" + `{"type":"track","userId":"u2","event":"Big","properties":{"note":"` + big + `"}}` + "\n", 2},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, []byte(f.content), 0o600))
			sum := b.importFile(t, path, Options{})
			require.Equal(t, []int{f.line}, lines(sum.Rejected), name)
			require.Contains(t, sum.Rejected[0].Reason, "at most", name)
		})
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Big'`))
}

// TestImportBatchLineKeepsValidMessages: a batch line's invalid messages are rejected alone
// (their reason naming the item); its valid ones are imported.
func TestImportBatchLineKeepsValidMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := filepath.Join(t.TempDir(), "mixed.ndjson")
	require.NoError(t, os.WriteFile(path, []byte(
		`{"batch":[{"type":"track","anonymousId":"x1","event":"Kept"},{"type":"track","event":"No ids"},{"type":"track","anonymousId":"x1","event":"Kept too"}]}`+"\n"+
			`{"type":"track","anonymousId":"x2","event":"Alone"}`+"\n"), 0o600))
	sum := b.importFile(t, path, Options{})
	require.Equal(t, 2, sum.Records)
	require.Equal(t, 3, sum.Stored)
	require.Equal(t, 1, sum.RejectedCount)
	require.Equal(t, []int{1}, lines(sum.Rejected))
	require.Contains(t, sum.Rejected[0].Reason, "batch[1].userId")
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM interactions`))

	again := b.importFile(t, path, Options{})
	require.Equal(t, 3, again.Duplicates, "a re-import derives the same messageIds")
}
