package segment

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/rfm"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestRandomRulesMatchEvaluator is the compiler's correctness proof: over a few thousand random
// customers (traits of every JSON type, events with properties and timestamps on window
// boundaries, orders, consent histories with ties, identities, RFM, memberships of other
// segments, merged-away profiles), for hundreds of random rule trees the SQL answer — the
// preview count, the matching ids, the memberships a computation writes (applied as diffs from
// the previous rule's members), and the memberships after customers change and an incremental
// drain re-evaluates them — equals the in-memory evaluator's. On failure the message holds the
// rule's JSON and the seed.
func TestRandomRulesMatchEvaluator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	customers, rules := 2500, 300
	if testing.Short() {
		customers, rules = 600, 60
	}
	d := genDataset(rng, customers)
	insertDataset(ctx, t, db, d)

	svc := &Service{DB: db, Now: func() time.Time { return d.now }}
	segID := insertSegment(ctx, t, db, "random", &Rule{Identity: &IdentityCondition{Type: "email", Exists: true}})
	g := &ruleGen{rng: rng, segments: d.segmentIDs()}
	for i := 0; i < rules; i++ {
		r := g.rule(0)
		// The rule travels as stored JSON, like a saved segment's.
		raw, err := json.Marshal(r)
		require.NoError(t, err)
		r, err = ParseRule(raw)
		require.NoError(t, err, "rule %s", raw)
		require.NoError(t, Validate(r), "generated an invalid rule %s", raw)

		want := d.evalMatches(r)
		n, err := svc.Preview(ctx, r)
		require.NoError(t, err, "rule %s", raw)
		// Both shapes of the driving event condition (Service.compile picks one by estimates).
		for _, joinFirst := range []bool{false, true} {
			got := queryMatches(ctx, t, db, r, CompileOptions{Now: d.now, JoinFirst: joinFirst})
			require.Equal(t, sortedIDs(want), sortedIDs(got), "ids differ for rule %s (joinFirst %v, seed %d)", raw, joinFirst, seed)
		}
		require.Equal(t, len(want), n, "preview count differs for rule %s (seed %d)", raw, seed)

		if i%3 == 0 {
			_, err := db.ExecContext(ctx, `UPDATE segments SET rule = $2 WHERE id = $1`, segID, raw)
			require.NoError(t, err)
			res, err := svc.Compute(ctx, segID)
			require.NoError(t, err, "rule %s", raw)
			require.Equal(t, len(want), res.Members, "member count for rule %s (seed %d)", raw, seed)
			require.Equal(t, sortedIDs(want), sortedIDs(openMembers(ctx, t, db, segID)), "memberships differ for rule %s (seed %d)", raw, seed)
		}
		if i%9 == 0 {
			// Incremental: some customers change (traits, a new event) and are marked dirty, as
			// ingest does; one drain must bring the memberships to the evaluator's answer.
			mutate(ctx, t, db, rng, d, 40)
			_, err := svc.Drain(ctx, 1000)
			require.NoError(t, err)
			for seg := range d.members {
				// The drain re-evaluates every segment, the inSegment targets too.
				d.members[seg] = openMembers(ctx, t, db, seg)
			}
			want := d.evalMatches(r)
			require.Equal(t, sortedIDs(want), sortedIDs(openMembers(ctx, t, db, segID)), "memberships after drain differ for rule %s (seed %d)", raw, seed)
		}
	}
}

// mutate gives n random customers new traits and a new event now, in the database and in d,
// and marks them dirty.
func mutate(ctx context.Context, t *testing.T, db *sql.DB, rng *rand.Rand, d *dataset, n int) {
	t.Helper()
	for k := 0; k < n; k++ {
		c := d.customers[rng.IntN(len(d.customers))]
		traits := randomObject(rng, map[string][]any{"plan": plans, "name": names, "signup": dates, "age": numbers})
		raw, _ := json.Marshal(traits)
		c.traits, c.decoded = string(raw), nil
		e := &memEvent{name: pick(rng, eventNames), at: d.now.Add(-time.Hour)}
		d.events[c.id] = append(d.events[c.id], e)
		_, err := db.ExecContext(ctx, `UPDATE customers SET traits = $2 WHERE id = $1`, c.id, c.traits)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, customer_id)
			VALUES (gen_random_uuid(), 'track', $1, $2, $2, gen_random_uuid()::text, $3)`, e.name, e.at, c.id)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO segment_dirty_customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING`, c.id)
		require.NoError(t, err)
	}
}

func queryMatches(ctx context.Context, t *testing.T, db *sql.DB, r *Rule, opts CompileOptions) map[uuid.UUID]bool {
	t.Helper()
	p, err := Compile(r, opts)
	require.NoError(t, err)
	q := p.IDs()
	rows, err := db.QueryContext(ctx, q.SQL, q.Args...)
	require.NoError(t, err, "sql: %s", q.SQL)
	defer rows.Close()
	out := map[uuid.UUID]bool{}
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		out[id] = true
	}
	require.NoError(t, rows.Err())
	return out
}

func openMembers(ctx context.Context, t *testing.T, db *sql.DB, seg uuid.UUID) map[uuid.UUID]bool {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL`, seg)
	require.NoError(t, err)
	defer rows.Close()
	out := map[uuid.UUID]bool{}
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		require.False(t, out[id], "two open memberships for %s", id)
		out[id] = true
	}
	require.NoError(t, rows.Err())
	return out
}

func insertSegment(ctx context.Context, t *testing.T, db *sql.DB, name string, r *Rule) uuid.UUID {
	t.Helper()
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	id := uuid.Must(uuid.NewV7())
	_, err = db.ExecContext(ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
		VALUES ($1, now(), now(), $2, $3, 3600, 0, 'pending')`, id, name, raw)
	require.NoError(t, err)
	return id
}

// ---- data ------------------------------------------------------------------------------

var (
	eventNames = []string{"Order Completed", "Page Viewed", "Email Opened", "Signed Up"}
	plans      = []any{"pro", "Pro", "PRO", "free", "enterprise", "Free ", json.Number("3"), true, nil}
	names      = []any{"Zoë", "zoë", "ÉCOLE", "école", "Ünïcödé", "straße", "Ada Lovelace", "ada", "", "日本語", json.Number("42")}
	dates      = []any{"2024-02-29", "2023-02-29", "2024-03-01", "2024-02-29T23:59:59Z", "2024-03-01T00:00:00+01:00",
		"2024-03-01T00:00", "2024-02-28T12:30:15.123456Z", "not a date", "2024-1-5", json.Number("20240301"), nil}
	numbers = []any{json.Number("0"), json.Number("-1"), json.Number("1.5"), json.Number("2"), json.Number("10"),
		json.Number("100.25"), json.Number("1e2"), "10", true, nil}
	cities     = []any{"Berlin", "berlin", "Paris", "São Paulo", nil, json.Number("7")}
	currencies = []any{"EUR", "eur", "USD", nil, json.Number("1")}
	purposes   = ConsentPurposes
	idTypes    = []string{"email", "phone", "user_id", "device_id", "external:crm"}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// randomObject builds a JSON object from (key, pool) pairs, leaving a key out now and then.
func randomObject(rng *rand.Rand, fields map[string][]any) map[string]any {
	m := map[string]any{}
	for k, pool := range fields {
		if rng.IntN(5) == 0 {
			continue
		}
		m[k] = pick(rng, pool)
	}
	return m
}

func genDataset(rng *rand.Rand, n int) *dataset {
	now := time.Now().UTC().Truncate(time.Microsecond)
	d := &dataset{
		now: now, events: map[uuid.UUID][]*memEvent{}, consents: map[uuid.UUID][]*memConsent{},
		identities: map[uuid.UUID]map[string]bool{}, members: map[uuid.UUID]map[uuid.UUID]bool{},
	}
	labels := rfm.Labels
	for i := 0; i < n; i++ {
		traits := randomObject(rng, map[string][]any{
			"plan": plans, "name": names, "signup": dates, "age": numbers, "score": numbers,
		})
		if rng.IntN(3) > 0 {
			traits["address"] = randomObject(rng, map[string][]any{"city": cities, "zip": numbers})
		}
		if rng.IntN(4) == 0 {
			traits["tags"] = []any{pick(rng, names), pick(rng, plans)}
		}
		raw, _ := json.Marshal(traits)
		c := &memCustomer{id: uuid.Must(uuid.NewV7()), traits: string(raw), merged: rng.IntN(20) == 0}
		if rng.IntN(2) == 0 {
			l := pick(rng, labels)
			r, f, m := 1+rng.IntN(5), 1+rng.IntN(5), 1+rng.IntN(5)
			c.label, c.r, c.f, c.m = &l, &r, &f, &m
		}
		d.customers = append(d.customers, c)

		for j := rng.IntN(12); j > 0; j-- {
			var at time.Time
			switch rng.IntN(6) {
			case 0: // exactly on a window boundary
				at = now.Add(-time.Duration(pick(rng, []int{7, 30, 60})) * 24 * time.Hour)
			case 1: // just outside one
				at = now.Add(-time.Duration(pick(rng, []int{7, 30, 60}))*24*time.Hour - time.Microsecond)
			default:
				at = now.Add(-time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Microsecond)
			}
			e := &memEvent{name: pick(rng, eventNames), at: at}
			if rng.IntN(6) > 0 {
				p, _ := json.Marshal(randomObject(rng, map[string][]any{
					"revenue": numbers, "currency": currencies, "coupon": names, "when": dates,
				}))
				e.props = string(p)
			}
			d.events[c.id] = append(d.events[c.id], e)
		}
		base := now.Add(-time.Duration(rng.IntN(100)) * time.Hour)
		for j := rng.IntN(4); j > 0; j-- {
			at := base
			if rng.IntN(3) > 0 { // else: a tie with the previous decision
				at = base.Add(time.Duration(rng.IntN(50)) * time.Minute)
			}
			d.consents[c.id] = append(d.consents[c.id], &memConsent{
				id: uuid.Must(uuid.NewV7()), purpose: pick(rng, purposes[:2]), granted: rng.IntN(3) > 0, at: at,
			})
		}
		ids := map[string]bool{}
		for _, ty := range idTypes {
			if rng.IntN(2) == 0 {
				ids[ty] = true
			}
		}
		d.identities[c.id] = ids
	}
	// Two other segments with open (and some closed) memberships, for inSegment.
	for k := 0; k < 2; k++ {
		seg := uuid.Must(uuid.NewV7())
		d.members[seg] = map[uuid.UUID]bool{}
		for _, c := range d.customers {
			if rng.IntN(3) == 0 {
				d.members[seg][c.id] = true
			}
		}
	}
	return d
}

func (d *dataset) segmentIDs() []uuid.UUID {
	var out []uuid.UUID
	for id := range d.members {
		out = append(out, id)
	}
	return out
}

func insertDataset(ctx context.Context, t *testing.T, db *sql.DB, d *dataset) {
	t.Helper()
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	var ids, traits, labels []string
	var rs, fs, ms []sql.NullInt64
	var merged []bool
	for _, c := range d.customers {
		ids = append(ids, c.id.String())
		traits = append(traits, c.traits)
		merged = append(merged, c.merged)
		if c.label != nil {
			labels = append(labels, *c.label)
			rs = append(rs, sql.NullInt64{Int64: int64(*c.r), Valid: true})
			fs = append(fs, sql.NullInt64{Int64: int64(*c.f), Valid: true})
			ms = append(ms, sql.NullInt64{Int64: int64(*c.m), Valid: true})
		} else {
			labels = append(labels, "")
			rs, fs, ms = append(rs, sql.NullInt64{}), append(fs, sql.NullInt64{}), append(ms, sql.NullInt64{})
		}
	}
	exec(`INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at,
			rfm_label, rfm_recency_score, rfm_frequency_score, rfm_monetary_score, rfm_score)
		SELECT id, now(), now(), tr, '{}', now(), now(), NULLIF(l, ''), r, f, m,
			CASE WHEN l <> '' THEN r::text || f::text || m::text END
		FROM unnest($1::uuid[], $2::jsonb[], $3::text[], $4::int[], $5::int[], $6::int[]) AS u(id, tr, l, r, f, m)`,
		pq.StringArray(ids), pq.StringArray(traits), pq.StringArray(labels), nullInts(rs), nullInts(fs), nullInts(ms))
	// Merged-away customers point at the first live customer.
	var survivor uuid.UUID
	for _, c := range d.customers {
		if !c.merged {
			survivor = c.id
			break
		}
	}
	var mergedIDs []string
	for i, c := range d.customers {
		if merged[i] {
			mergedIDs = append(mergedIDs, c.id.String())
		}
	}
	exec(`UPDATE customers SET merged_into_id = $1, merged_at = now() WHERE id = ANY($2::uuid[])`, survivor, pq.StringArray(mergedIDs))

	var eCust, eName, eProps, eMsg []string
	var eAt []string
	n := 0
	for _, c := range d.customers {
		for _, e := range d.events[c.id] {
			n++
			eCust = append(eCust, c.id.String())
			eName = append(eName, e.name)
			eProps = append(eProps, e.props)
			eAt = append(eAt, e.at.Format(time.RFC3339Nano))
			eMsg = append(eMsg, fmt.Sprintf("m-%d", n))
		}
	}
	exec(`INSERT INTO interactions (id, kind, event, properties, occurred_at, received_at, message_id, customer_id)
		SELECT gen_random_uuid(), 'track', ev, NULLIF(p, '')::jsonb, at, at, msg, cid
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS u(cid, ev, p, at, msg)`,
		pq.StringArray(eCust), pq.StringArray(eName), pq.StringArray(eProps), pq.StringArray(eAt), pq.StringArray(eMsg))

	var kID, kCust, kPurpose, kAt []string
	var kGranted []bool
	var iCust, iType, iValue []string
	for _, c := range d.customers {
		for _, k := range d.consents[c.id] {
			kID = append(kID, k.id.String())
			kCust = append(kCust, c.id.String())
			kPurpose = append(kPurpose, k.purpose)
			kGranted = append(kGranted, k.granted)
			kAt = append(kAt, k.at.Format(time.RFC3339Nano))
		}
		for ty := range d.identities[c.id] {
			iCust = append(iCust, c.id.String())
			iType = append(iType, ty)
			iValue = append(iValue, ty+"-"+c.id.String())
		}
	}
	exec(`INSERT INTO consents (id, customer_id, purpose, granted, recorded_at)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bool[], $5::timestamptz[])`,
		pq.StringArray(kID), pq.StringArray(kCust), pq.StringArray(kPurpose), pq.BoolArray(kGranted), pq.StringArray(kAt))
	exec(`INSERT INTO identities (id, customer_id, type, value, first_seen_at, last_seen_at)
		SELECT gen_random_uuid(), c, ty, v, now(), now() FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(c, ty, v)`,
		pq.StringArray(iCust), pq.StringArray(iType), pq.StringArray(iValue))

	for seg, members := range d.members {
		exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
			VALUES ($1, now(), now(), $2, '{"identity":{"type":"email","exists":true}}', 3600, 0, 'ready')`, seg, "other "+seg.String())
		var open, closed []string
		for _, c := range d.customers {
			if members[c.id] {
				open = append(open, c.id.String())
			} else if c.id[15]%4 == 0 {
				closed = append(closed, c.id.String())
			}
		}
		exec(`INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at, exited_at)
			SELECT gen_random_uuid(), $1::uuid, c, now() - interval '2 days', NULL FROM unnest($2::uuid[]) c
			UNION ALL
			SELECT gen_random_uuid(), $1::uuid, c, now() - interval '2 days', now() - interval '1 day' FROM unnest($3::uuid[]) c`,
			seg, pq.StringArray(open), pq.StringArray(closed))
	}
	exec(`ANALYZE`)
}

func nullInts(xs []sql.NullInt64) any {
	s := make([]string, len(xs))
	for i, x := range xs {
		if x.Valid {
			s[i] = fmt.Sprint(x.Int64)
		} else {
			s[i] = "NULL"
		}
	}
	return "{" + strings.Join(s, ",") + "}"
}

// ---- rules -----------------------------------------------------------------------------

type ruleGen struct {
	rng      *rand.Rand
	segments []uuid.UUID
}

var traitKeys = []struct {
	key  string
	pool []any
}{
	{"plan", plans}, {"name", names}, {"signup", dates}, {"age", numbers}, {"score", numbers},
	{"address.city", cities}, {"address.zip", numbers}, {"tags.0", names}, {"tags.1", plans}, {"missing", names},
}

var propKeys = []struct {
	key  string
	pool []any
}{{"revenue", numbers}, {"currency", currencies}, {"coupon", names}, {"when", dates}}

func (g *ruleGen) rule(depth int) *Rule {
	if depth < 3 && g.rng.IntN(3) == 0 {
		switch g.rng.IntN(3) {
		case 0:
			return &Rule{Not: g.rule(depth + 1)}
		default:
			list := make([]*Rule, 1+g.rng.IntN(3))
			for i := range list {
				list[i] = g.rule(depth + 1)
			}
			if g.rng.IntN(2) == 0 {
				return &Rule{And: list}
			}
			return &Rule{Or: list}
		}
	}
	switch g.rng.IntN(9) {
	case 0, 1, 2:
		k := traitKeys[g.rng.IntN(len(traitKeys))]
		op, v := g.comparison(k.pool)
		return &Rule{Trait: &TraitCondition{Key: k.key, Op: op, Value: v}}
	case 3, 4:
		e := &EventCondition{Name: pick(g.rng, eventNames)}
		if g.rng.IntN(3) > 0 {
			days := pick(g.rng, []int{7, 30, 60})
			e.WithinDays = &days
		}
		if g.rng.IntN(2) == 0 {
			e.Count = &CountCondition{Op: pick(g.rng, []Op{OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE}), Value: g.rng.IntN(4)}
		}
		for i := g.rng.IntN(3); i > 0; i-- {
			k := propKeys[g.rng.IntN(len(propKeys))]
			op, v := g.comparison(k.pool)
			e.Where = append(e.Where, &PropertyCondition{Key: k.key, Op: op, Value: v})
		}
		return &Rule{Event: e}
	case 5:
		c := &RFMCondition{}
		if g.rng.IntN(2) == 0 {
			l := pick(g.rng, rfm.Labels)
			c.Label = &l
		} else {
			lo, hi := 1+g.rng.IntN(5), 1+g.rng.IntN(5)
			if lo > hi {
				lo, hi = hi, lo
			}
			c.RecencyScore = &IntRange{Min: &lo}
			if g.rng.IntN(2) == 0 {
				c.MonetaryScore = &IntRange{Min: &lo, Max: &hi}
			}
		}
		return &Rule{RFM: c}
	case 6:
		return &Rule{Consent: &ConsentCondition{Purpose: pick(g.rng, ConsentPurposes[:3]), Granted: g.rng.IntN(2) == 0}}
	case 7:
		return &Rule{Identity: &IdentityCondition{Type: pick(g.rng, idTypes), Exists: g.rng.IntN(2) == 0}}
	}
	id := pick(g.rng, g.segments)
	return &Rule{InSegment: &id}
}

// comparison picks an operator and a value that validates for it, drawn from the data's pool.
func (g *ruleGen) comparison(pool []any) (Op, any) {
	for {
		op := pick(g.rng, Ops)
		var v any
		switch op {
		case OpExists, OpNotExists:
			return op, nil
		case OpIn:
			list := []any{}
			for i := 1 + g.rng.IntN(3); i > 0; i-- {
				if e := pick(g.rng, pool); e != nil {
					list = append(list, e)
				}
			}
			v = list
		default:
			v = pick(g.rng, pool)
		}
		if validateComparison("x", "k", op, v) == nil {
			return op, v
		}
	}
}
