package seed

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

var testNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

type testBundle struct {
	db *sql.DB
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{db: testdb.New(t)}
}

func seedSmall(t *testing.T, db *sql.DB, s uint64) *Result {
	t.Helper()
	res, err := Run(t.Context(), db, Options{Customers: 800, Events: 6000, Seed: s, Now: testNow, ChunkCustomers: 150})
	require.NoError(t, err)
	return res
}

// fingerprint is a per-table count and md5 over every column of every row in id order.
func fingerprint(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range seededTables {
		var n int64
		var sum string
		err := db.QueryRowContext(t.Context(),
			`SELECT count(*), coalesce(md5(string_agg(x::text, E'\n' ORDER BY x.id)), '') FROM `+table+` x`).Scan(&n, &sum)
		require.NoError(t, err)
		out[table] = fmt.Sprintf("%d rows, md5 %s", n, sum)
		require.Positive(t, n, table)
	}
	return out
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b, c := setup(t), setup(t), setup(t)
	resA := seedSmall(t, a.db, 42)
	resB := seedSmall(t, b.db, 42)
	seedSmall(t, c.db, 43)

	require.Equal(t, resA.Customers, resB.Customers)
	require.EqualValues(t, 800, resA.Customers)
	require.EqualValues(t, 6000, resA.Interactions)
	require.Equal(t, resA.Identities, resB.Identities)
	require.Equal(t, resA.Consents, resB.Consents)

	fa, fb, fc := fingerprint(t, a.db), fingerprint(t, b.db), fingerprint(t, c.db)
	require.Equal(t, fa, fb, "the same seed must give the same rows")
	for _, table := range seededTables {
		require.NotEqual(t, fa[table], fc[table], "another seed must give other %s", table)
	}
}

func TestSeedIsConsistent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var indexesBefore int
	const countIndexes = `SELECT count(*) FROM pg_indexes WHERE tablename IN ('customers','identities','consents','interactions')`
	require.NoError(t, b.db.QueryRowContext(ctx, countIndexes).Scan(&indexesBefore))

	res := seedSmall(t, b.db, 7)
	require.Positive(t, res.Rebuilt, "an empty database is loaded without indexes")

	var indexesAfter int
	require.NoError(t, b.db.QueryRowContext(ctx, countIndexes).Scan(&indexesAfter))
	require.Equal(t, indexesBefore, indexesAfter, "every index is rebuilt")

	// Each check counts violations; all must be zero.
	checks := map[string]string{
		"interaction without customer": `SELECT count(*) FROM interactions i LEFT JOIN customers c ON c.id = i.customer_id WHERE c.id IS NULL`,
		"identity without customer":    `SELECT count(*) FROM identities i LEFT JOIN customers c ON c.id = i.customer_id WHERE c.id IS NULL`,
		"consent without customer":     `SELECT count(*) FROM consents i LEFT JOIN customers c ON c.id = i.customer_id WHERE c.id IS NULL`,
		"duplicate identity":           `SELECT count(*) - count(DISTINCT (type, value)) FROM identities`,
		"duplicate message_id":         `SELECT count(*) - count(DISTINCT message_id) FROM interactions`,
		"order without revenue": `SELECT count(*) FROM interactions WHERE event = 'Order Completed'
			AND (revenue IS NULL OR revenue <= 0 OR (properties->>'revenue')::numeric <> revenue OR properties->'total' IS NULL)`,
		"revenue on a non-order": `SELECT count(*) FROM interactions WHERE revenue IS NOT NULL AND event IS DISTINCT FROM 'Order Completed'`,
		"first/last seen not matching events": `SELECT count(*) FROM customers c JOIN (
			SELECT customer_id, min(occurred_at) lo, max(occurred_at) hi FROM interactions GROUP BY 1) e ON e.customer_id = c.id
			WHERE c.first_seen_at <> e.lo OR c.last_seen_at <> e.hi`,
		"identity seen outside its customer's span": `SELECT count(*) FROM identities i JOIN customers c ON c.id = i.customer_id
			WHERE i.first_seen_at < c.first_seen_at OR i.last_seen_at > c.last_seen_at OR i.first_seen_at > i.last_seen_at`,
		"received before occurred":   `SELECT count(*) FROM interactions WHERE received_at < occurred_at`,
		"event in the future":        `SELECT count(*) FROM interactions WHERE occurred_at > '2026-06-01'::timestamptz`,
		"event older than two years": `SELECT count(*) FROM interactions WHERE occurred_at < '2026-06-01'::timestamptz - interval '731 days'`,
		"customer without anonymous_id": `SELECT count(*) FROM customers c WHERE NOT EXISTS (
			SELECT 1 FROM identities i WHERE i.customer_id = c.id AND i.type = 'anonymous_id')`,
		"identified customer without user_id and email": `SELECT count(*) FROM customers c WHERE c.email IS NOT NULL AND 2 <> (
			SELECT count(*) FROM identities i WHERE i.customer_id = c.id AND i.type IN ('user_id', 'email'))`,
		"email trait not the email column": `SELECT count(*) FROM customers WHERE email IS DISTINCT FROM traits->>'email'`,
		"id not a UUIDv7":                  `SELECT count(*) FROM interactions WHERE substr(id::text, 15, 1) <> '7'`,
		"email event without consent": `SELECT count(*) FROM interactions i WHERE i.channel = 'email' AND NOT EXISTS (
			SELECT 1 FROM consents c WHERE c.customer_id = i.customer_id AND c.purpose = 'email_marketing' AND c.granted)`,
		"event after analytics withdrawn": `SELECT count(*) FROM interactions i JOIN consents c ON c.customer_id = i.customer_id
			AND c.purpose = 'analytics' AND NOT c.granted WHERE i.occurred_at >= c.recorded_at`,
	}
	for name, q := range checks {
		t.Run(name, func(t *testing.T) {
			var n int64
			require.NoError(t, b.db.QueryRowContext(ctx, q).Scan(&n), name)
			require.Zero(t, n, name)
		})
	}

	// The data has the shapes the product needs, in plausible proportions.
	atLeast := map[string]struct {
		q   string
		min int64
	}{
		"identified customers":     {`SELECT count(*) FROM customers WHERE email IS NOT NULL`, 150},
		"anonymous-only customers": {`SELECT count(*) FROM customers WHERE email IS NULL`, 150},
		"customers with several devices": {`SELECT count(*) FROM (SELECT customer_id FROM identities WHERE type = 'anonymous_id'
			GROUP BY 1 HAVING count(*) > 1) x`, 40},
		"anonymous browsing before identifying": {`SELECT count(*) FROM customers c JOIN identities u ON u.customer_id = c.id
			AND u.type = 'user_id' WHERE c.first_seen_at < u.first_seen_at`, 100},
		"orders":                 {`SELECT count(*) FROM interactions WHERE event = 'Order Completed'`, 50},
		"email opens":            {`SELECT count(*) FROM interactions WHERE event = 'Email Opened'`, 50},
		"email clicks":           {`SELECT count(*) FROM interactions WHERE event = 'Email Link Clicked'`, 20},
		"page views":             {`SELECT count(*) FROM interactions WHERE kind = 'page' AND event = 'Page Viewed'`, 1000},
		"identifies":             {`SELECT count(*) FROM interactions WHERE kind = 'identify'`, 150},
		"marketing denied":       {`SELECT count(*) FROM consents WHERE purpose = 'email_marketing' AND NOT granted`, 10},
		"marketing granted":      {`SELECT count(*) FROM consents WHERE purpose = 'email_marketing' AND granted`, 100},
		"events last 30 days":    {`SELECT count(*) FROM interactions WHERE occurred_at > '2026-05-01'`, 300},
		"events over a year ago": {`SELECT count(*) FROM interactions WHERE occurred_at < '2025-06-01'`, 100},
	}
	for name, c := range atLeast {
		t.Run(name, func(t *testing.T) {
			var n int64
			require.NoError(t, b.db.QueryRowContext(ctx, c.q).Scan(&n), name)
			require.GreaterOrEqual(t, n, c.min, name)
		})
	}
	// Recency skew: the last year holds more events than the year before.
	var recent, older int64
	require.NoError(t, b.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE occurred_at >= '2025-06-01'),
		count(*) FILTER (WHERE occurred_at < '2025-06-01') FROM interactions`).Scan(&recent, &older))
	require.Greater(t, recent, older)
}

func TestSeedIntoNonEmptyDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedSmall(t, b.db, 1)
	res := seedSmall(t, b.db, 2)
	require.Zero(t, res.Rebuilt, "indexes stay in place when the tables hold data")

	var customers, interactions int64
	require.NoError(t, b.db.QueryRowContext(t.Context(),
		`SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM interactions)`).Scan(&customers, &interactions))
	require.EqualValues(t, 1600, customers)
	require.EqualValues(t, 12000, interactions)

	// The same seed again collides and changes nothing.
	_, err := Run(t.Context(), b.db, Options{Customers: 800, Events: 6000, Seed: 2, Now: testNow})
	require.ErrorContains(t, err, "already holds data")
	require.NoError(t, b.db.QueryRowContext(t.Context(), `SELECT count(*) FROM customers`).Scan(&customers))
	require.EqualValues(t, 1600, customers)
}

func TestAllocateEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ customers, events int }{{1, 0}, {1, 10}, {10, 5}, {1000, 10_000}, {7, 7}} {
		t.Run(fmt.Sprintf("%d customers %d events", tc.customers, tc.events), func(t *testing.T) {
			t.Parallel()
			counts := allocateEvents(3, tc.customers, tc.events)
			var sum, zero, maxc int
			for _, c := range counts {
				sum += int(c)
				maxc = max(maxc, int(c))
				if c == 0 {
					zero++
				}
			}
			require.Equal(t, tc.events, sum, "%+v", tc)
			if tc.events >= tc.customers {
				require.Zero(t, zero, "everyone gets an event when there are enough: %+v", tc)
			}
			if tc.customers >= 1000 {
				require.Greater(t, maxc, 5*tc.events/tc.customers, "activity is heavy-tailed")
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Customers: 0}, {Customers: 1, Events: -1}, {Customers: MaxCustomers + 1}} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			t.Parallel()
			require.Error(t, o.defaults())
		})
	}
}
