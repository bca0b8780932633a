package segment

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

// opCustomers are the traits of the operator table test's customers, by name.
var opCustomers = map[string]string{
	"missing":  `{}`,
	"null":     `{"v": null}`,
	"num":      `{"v": 10}`,
	"numstr":   `{"v": "10"}`,
	"dec":      `{"v": 10.5}`,
	"str":      `{"v": "Pro"}`,
	"uni":      `{"v": "ÉCOLE Zoë"}`,
	"bool":     `{"v": true}`,
	"date":     `{"v": "2024-02-29"}`,
	"datetime": `{"v": "2024-02-29T23:59:59Z"}`,
	"datetz":   `{"v": "2024-03-01T00:30:00+01:00"}`,
	"baddate":  `{"v": "2023-02-29"}`,
	"nested":   `{"a": {"b": "deep"}}`,
	"arr":      `{"v": [1, 2]}`,
	"obj":      `{"v": {"x": 1}}`,
}

func TestTraitOperators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	byID := map[uuid.UUID]string{}
	for name, traits := range opCustomers {
		id := uuid.Must(uuid.NewV7())
		byID[id] = name
		_, err := db.ExecContext(ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
			VALUES ($1, now(), now(), $2, '{}', now(), now())`, id, traits)
		require.NoError(t, err)
	}
	num := func(s string) any { return json.Number(s) }
	tests := []struct {
		name  string
		rule  *Rule
		match string // space-separated customer names
	}{
		{"EQ number is numeric, never a string", trait("v", OpEQ, num("10")), "num"},
		{"EQ number equal decimals", trait("v", OpEQ, num("10.0")), "num"},
		{"EQ string is text, never a number", trait("v", OpEQ, "10"), "numstr"},
		{"NEQ skips missing, null and other types", trait("v", OpNEQ, num("10")), "dec"},
		{"GT number", trait("v", OpGT, num("10")), "dec"},
		{"GTE number", trait("v", OpGTE, num("10")), "num dec"},
		{"LT number", trait("v", OpLT, num("10.5")), "num"},
		{"EQ string case-insensitive", trait("v", OpEQ, "pRO"), "str"},
		{"NEQ string case-insensitive; date strings are strings too", trait("v", OpNEQ, "PRO"), "numstr uni date datetime datetz baddate"},
		{"EQ unicode case-insensitive", trait("v", OpEQ, "école zoë"), "uni"},
		{"CONTAINS unicode", trait("v", OpContains, "zoË"), "uni"},
		{"CONTAINS takes % literally", trait("v", OpContains, "%"), ""},
		{"STARTS_WITH", trait("v", OpStartsWith, "éc"), "uni"},
		{"STARTS_WITH _ literally", trait("v", OpStartsWith, "_"), ""},
		{"EQ boolean", trait("v", OpEQ, true), "bool"},
		{"NEQ boolean", trait("v", OpNEQ, false), "bool"},
		{"GT date excludes the same instant", trait("v", OpGT, "2024-02-29"), "datetime datetz"},
		{"GTE date at the boundary", trait("v", OpGTE, "2024-02-29"), "date datetime datetz"},
		{"LT next day; impossible dates are not dates", trait("v", OpLT, "2024-03-01"), "date datetime datetz"},
		{"EQ timestamp equals a date's midnight", trait("v", OpEQ, "2024-02-29T00:00:00Z"), "date"},
		{"LTE honours zones", trait("v", OpLTE, "2024-02-29T23:30:00Z"), "date datetz"},
		{"EQ date with zone offset", trait("v", OpEQ, "2024-02-29T23:30:00Z"), "datetz"},
		{"EXISTS is present and not null", trait("v", OpExists, nil), "num numstr dec str uni bool date datetime datetz baddate arr obj"},
		{"NOT_EXISTS is missing or null", trait("v", OpNotExists, nil), "missing null nested"},
		{"IN mixes types, each by its own", trait("v", OpIn, []any{"PRO", num("10"), true}), "str num bool"},
		{"IN string never matches a number", trait("v", OpIn, []any{"10"}), "numstr"},
		{"IN strings compare as text, not dates", trait("v", OpIn, []any{"2024-02-29T00:00:00Z"}), ""},
		{"dotted path", trait("a.b", OpEQ, "DEEP"), "nested"},
		{"dotted path into an array", trait("v.1", OpEQ, num("2")), "arr"},
		{"path through a scalar is missing", trait("v.x.y", OpExists, nil), ""},
		{"nested object key", trait("v.x", OpGTE, num("1")), "obj"},
		{"not EQ includes missing and other types", &Rule{Not: trait("v", OpEQ, num("10"))},
			"missing null numstr dec str uni bool date datetime datetz baddate nested arr obj"},
		{"not of a NULL-yielding condition", &Rule{Not: trait("v", OpGT, num("0"))},
			"missing null numstr str uni bool date datetime datetz baddate nested arr obj"},
	}
	svc := &Service{DB: db}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.rule, CompileOptions{})
			require.NoError(t, err)
			q := p.IDs()
			rows, err := db.QueryContext(ctx, q.SQL, q.Args...)
			require.NoError(t, err)
			var got []string
			for rows.Next() {
				var id uuid.UUID
				require.NoError(t, rows.Scan(&id))
				got = append(got, byID[id])
			}
			require.NoError(t, rows.Err())
			want := strings.Fields(tc.match)
			sort.Strings(got)
			sort.Strings(want)
			if want == nil {
				want = []string{}
			}
			if got == nil {
				got = []string{}
			}
			require.Equal(t, want, got)
			n, err := svc.Preview(ctx, tc.rule)
			require.NoError(t, err)
			require.Equal(t, len(want), n)
		})
	}
}

func trait(key string, op Op, v any) *Rule {
	return &Rule{Trait: &TraitCondition{Key: key, Op: op, Value: v}}
}

func TestEventConditions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	cust := map[string]uuid.UUID{}
	for _, name := range []string{"none", "one", "three", "old", "edge", "merged"} {
		id := uuid.Must(uuid.NewV7())
		cust[name] = id
		_, err := db.ExecContext(ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
			VALUES ($1, now(), now(), '{}', '{}', now(), now())`, id)
		require.NoError(t, err)
	}
	_, err := db.ExecContext(ctx, `UPDATE customers SET merged_into_id = $1 WHERE id = $2`, cust["one"], cust["merged"])
	require.NoError(t, err)
	n := 0
	event := func(who string, at time.Time, props string) {
		n++
		_, err := db.ExecContext(ctx, `INSERT INTO interactions (id, kind, event, properties, occurred_at, received_at, message_id, customer_id)
			VALUES (gen_random_uuid(), 'track', 'Order Completed', NULLIF($1, '')::jsonb, $2, $2, $3, $4)`, props, at, "m"+string(rune('a'+n)), cust[who])
		require.NoError(t, err)
	}
	day := 24 * time.Hour
	event("one", now.Add(-day), `{"total": 50, "currency": "EUR"}`)
	for i := 0; i < 3; i++ {
		event("three", now.Add(-time.Duration(i+1)*day), `{"total": 150, "currency": "eur"}`)
	}
	event("old", now.Add(-40*day), `{"total": 500}`)
	event("edge", now.Add(-30*day), ``)                                // exactly on the window's start: inside
	event("merged", now.Add(-day), `{"total": 50, "currency": "EUR"}`) // merged-away: never matches

	days := func(d int) *int { return &d }
	count := func(op Op, v int) *CountCondition { return &CountCondition{Op: op, Value: v} }
	tests := []struct {
		name  string
		rule  *Rule
		match string
	}{
		{"performed ever", ev(nil, nil), "one three old edge"},
		{"within 30 days, boundary inclusive", ev(days(30), nil), "one three edge"},
		{"did not perform within 30 days", &Rule{Not: ev(days(30), nil)}, "none old"},
		{"count EQ 0 includes customers with no events", ev(days(30), count(OpEQ, 0)), "none old"},
		{"count LT 2 includes zero", ev(days(30), count(OpLT, 2)), "none one old edge"},
		{"count GTE 3", ev(days(30), count(OpGTE, 3)), "three"},
		{"count NEQ 1", ev(nil, count(OpNEQ, 1)), "none three"},
		{"count LTE 0 under OR", &Rule{Or: []*Rule{ev(days(7), count(OpLTE, 0)), trait("x", OpExists, nil)}}, "none old edge"},
		{"where typed property", &Rule{Event: &EventCondition{Name: "Order Completed", Where: []*PropertyCondition{
			{Key: "total", Op: OpGT, Value: json.Number("100")}}}}, "three old"},
		{"where case-insensitive and count", &Rule{Event: &EventCondition{Name: "Order Completed", Count: count(OpGTE, 1), Where: []*PropertyCondition{
			{Key: "currency", Op: OpEQ, Value: "Eur"}}}}, "one three"},
		{"where on NULL properties", &Rule{Event: &EventCondition{Name: "Order Completed", Where: []*PropertyCondition{
			{Key: "total", Op: OpNotExists}}}}, "edge"},
		{"other event name", &Rule{Event: &EventCondition{Name: "order completed"}}, ""},
	}
	svc := &Service{DB: db, Now: func() time.Time { return now }}
	names := map[uuid.UUID]string{}
	for k, v := range cust {
		names[v] = k
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := queryMatches(ctx, t, db, tc.rule, CompileOptions{Now: now})
			var gotNames []string
			for id := range got {
				gotNames = append(gotNames, names[id])
			}
			want := strings.Fields(tc.match)
			sort.Strings(gotNames)
			sort.Strings(want)
			require.Equal(t, len(want), len(gotNames), "got %v", gotNames)
			if len(want) > 0 {
				require.Equal(t, want, gotNames)
			}
			c, err := svc.Preview(ctx, tc.rule)
			require.NoError(t, err)
			require.Equal(t, len(want), c)
		})
	}
}

func ev(within *int, count *CountCondition) *Rule {
	return &Rule{Event: &EventCondition{Name: "Order Completed", WithinDays: within, Count: count}}
}

func TestCompileNeverSplicesValues(t *testing.T) {
	t.Parallel()
	evil := `x'); DROP TABLE customers; --`
	r := &Rule{And: []*Rule{
		trait(evil+".y", OpEQ, evil),
		{Event: &EventCondition{Name: evil, Where: []*PropertyCondition{{Key: evil, Op: OpContains, Value: evil}}}},
		{Consent: &ConsentCondition{Purpose: "analytics", Granted: true}},
		{Identity: &IdentityCondition{Type: "external:" + evil, Exists: true}},
	}}
	for _, joinFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("joinFirst %v", joinFirst), func(t *testing.T) {
			p, err := Compile(r, CompileOptions{JoinFirst: joinFirst})
			require.NoError(t, err)
			for _, q := range []Query{p.IDs(), p.Count()} {
				require.NotContains(t, q.SQL, "DROP")
				require.NotContains(t, q.SQL, "analytics")
			}
		})
	}
	q, _, ok := DriverEvents(r, time.Now())
	require.True(t, ok)
	require.NotContains(t, q.SQL, "DROP")
}

func TestDriverEvents(t *testing.T) {
	t.Parallel()
	pro := trait("plan", OpEQ, "pro")
	count := func(op Op, v int) *CountCondition { return &CountCondition{Op: op, Value: v} }
	tests := []struct {
		name     string
		rule     *Rule
		ok       bool
		minCount int
	}{
		{"performed, with a trait", &Rule{And: []*Rule{pro, ev(nil, nil)}}, true, 1},
		{"count GTE 3", &Rule{And: []*Rule{ev(nil, count(OpGTE, 3)), pro}}, true, 3},
		{"count GT 0", &Rule{And: []*Rule{pro, ev(nil, count(OpGT, 0))}}, true, 1},
		{"count EQ 2", &Rule{And: []*Rule{pro, ev(nil, count(OpEQ, 2))}}, true, 2},
		{"count NEQ 0", &Rule{And: []*Rule{pro, ev(nil, count(OpNEQ, 0))}}, true, 1},
		{"first count admits zero, second drives", &Rule{And: []*Rule{pro, ev(nil, count(OpLT, 3)), ev(nil, count(OpGTE, 2))}}, true, 2},
		{"a count admitting zero cannot drive", &Rule{And: []*Rule{pro, ev(nil, count(OpLTE, 3))}}, false, 0},
		{"no row-level conjunct", &Rule{And: []*Rule{ev(nil, count(OpGTE, 2)), {Consent: &ConsentCondition{Purpose: "email_marketing", Granted: true}}}}, false, 0},
		{"under OR nothing drives", &Rule{Or: []*Rule{pro, ev(nil, nil)}}, false, 0},
		{"under NOT nothing drives", &Rule{And: []*Rule{pro, {Not: ev(nil, nil)}}}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, k, ok := DriverEvents(tc.rule, time.Now())
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.minCount, k)
			p, err := Compile(tc.rule, CompileOptions{JoinFirst: true})
			require.NoError(t, err)
			require.Equal(t, tc.ok, strings.Contains(p.Count().SQL, "JOIN customers c ON"), "JoinFirst joins customers exactly when there is a driver and a row-level conjunct")
		})
	}
}
