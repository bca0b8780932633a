package privacy_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/retentionpolicy"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

type retentionBundle struct {
	ctx    context.Context
	db     *sql.DB
	client *ent.Client
	ret    *privacy.Retention
	now    time.Time
}

func retentionSetup(t *testing.T) *retentionBundle {
	t.Helper()
	db := testdb.New(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	return &retentionBundle{ctx: t.Context(), db: db, client: txn.NewClient(db), now: now,
		ret: privacy.NewRetention(db, &privacy.RetentionOptions{Now: func() time.Time { return now }})}
}

// customer inserts a customer, with an identity unless identified is false.
func (b *retentionBundle) customer(t *testing.T, identified bool) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times,
		first_seen_at, last_seen_at) VALUES ($1, now(), now(), '{}', '{}', now(), now())`, id)
	require.NoError(t, err)
	if identified {
		_, err = b.db.ExecContext(b.ctx, `INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
			VALUES ($1, 'user_id', $2, now(), now(), $3)`, uuid.Must(uuid.NewV7()), id.String(), id)
		require.NoError(t, err)
	}
	return id
}

// event is one interaction to insert.
type event struct {
	kind       string
	name       string // "" for none
	ageDays    int
	properties string // JSON; "" for NULL
	context    string // JSON; "" for NULL
}

// interactions inserts evs for customer and returns their ids in order.
func (b *retentionBundle) interactions(t *testing.T, customer uuid.UUID, evs ...event) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, len(evs))
	for i, e := range evs {
		ids[i] = uuid.Must(uuid.NewV7())
		_, err := b.db.ExecContext(b.ctx, `INSERT INTO interactions (id, kind, event, properties, context, occurred_at,
			received_at, message_id, revenue, source, channel, customer_id)
			VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, '')::jsonb, NULLIF($5, '')::jsonb, $6, $6, $7, NULL, 'key1', 'web', $8)`,
			ids[i], e.kind, e.name, e.properties, e.context, b.now.Add(-time.Duration(e.ageDays)*24*time.Hour-time.Minute),
			ids[i].String(), customer)
		require.NoError(t, err)
	}
	return ids
}

func (b *retentionBundle) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRowContext(b.ctx, q, args...).Scan(&n))
	return n
}

func ptr[T any](v T) *T { return &v }

func TestSweepMatchesKindAndEventGlob(t *testing.T) {
	t.Parallel()
	// Each case sweeps these interactions (all of one identified customer) with one policy and
	// lists the events (kind/event) that must remain.
	seed := []event{
		{kind: "track", name: "Order Completed", ageDays: 40},
		{kind: "track", name: "Order Refunded", ageDays: 40},
		{kind: "track", name: "Orders Viewed", ageDays: 40},
		{kind: "track", name: "Order Completed", ageDays: 10},
		{kind: "track", name: "100% off", ageDays: 40},
		{kind: "track", name: "1000 off", ageDays: 40},
		{kind: "page", name: "Home", ageDays: 40},
		{kind: "page", name: "Home", ageDays: 5},
		{kind: "identify", ageDays: 40},
	}
	all := []string{"track/Order Completed", "track/Order Refunded", "track/Orders Viewed", "track/Order Completed",
		"track/100% off", "track/1000 off", "page/Home", "page/Home", "identify/"}
	tests := []struct {
		name   string
		policy privacy.PolicyInput
		remain []string
	}{
		{
			name:   "kind only",
			policy: privacy.PolicyInput{Kind: ptr(interaction.KindPage), KeepDays: 30},
			remain: without(all, 6),
		},
		{
			name:   "glob with star",
			policy: privacy.PolicyInput{Event: ptr("Order *"), KeepDays: 30},
			remain: without(all, 0, 1),
		},
		{
			name:   "percent in glob is literal",
			policy: privacy.PolicyInput{Event: ptr("100% off"), KeepDays: 30},
			remain: without(all, 4),
		},
		{
			name:   "question mark is one character",
			policy: privacy.PolicyInput{Event: ptr("?000 off"), KeepDays: 30},
			remain: without(all, 5),
		},
		{
			name:   "kind and glob",
			policy: privacy.PolicyInput{Kind: ptr(interaction.KindTrack), Event: ptr("*0*"), KeepDays: 30},
			remain: without(all, 4, 5),
		},
		{
			name:   "no kind, no glob: every old interaction, named or not",
			policy: privacy.PolicyInput{KeepDays: 30},
			remain: []string{"track/Order Completed", "page/Home"},
		},
		{
			name:   "keepDays spares younger rows",
			policy: privacy.PolicyInput{KeepDays: 60},
			remain: all,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := retentionSetup(t)
			c := b.customer(t, true)
			b.interactions(t, c, seed...)
			tc.policy.Name, tc.policy.Action = "p", retentionpolicy.ActionDelete
			_, err := b.ret.CreatePolicy(b.ctx, tc.policy)
			require.NoError(t, err)
			res, err := b.ret.Sweep(b.ctx, nil)
			require.NoError(t, err)
			require.Equal(t, int64(len(all)-len(tc.remain)), res.Rows)
			require.ElementsMatch(t, tc.remain, b.remaining(t))
		})
	}
}

// without returns list without the items at the given indexes.
func without(list []string, idx ...int) []string {
	skip := map[int]bool{}
	for _, i := range idx {
		skip[i] = true
	}
	var out []string
	for i, s := range list {
		if !skip[i] {
			out = append(out, s)
		}
	}
	return out
}

// remaining lists the interactions left as kind/event.
func (b *retentionBundle) remaining(t *testing.T) []string {
	t.Helper()
	rows, err := b.db.QueryContext(b.ctx, `SELECT kind || '/' || coalesce(event, '') FROM interactions`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestAnonymizeKeepsWhatItDocuments(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t)
	c := b.customer(t, true)
	long := fmt.Sprintf("%0101d", 0) // one byte over the longest string kept
	b.interactions(t, c, event{
		kind: "track", name: "Order Completed", ageDays: 400,
		properties: `{"revenue": 42.5, "currency": "EUR", "category": "books", "quantity": 2, "sku": "` + long + `",
			"email": "ann@example.com", "name": "Ann", "product_id": {"nested": "x"}, "price": [1, 2], "coupon": "ANN10"}`,
		context: `{"ip": "203.0.113.0", "userAgent": "Mozilla/5.0", "locale": "fr-FR",
			"library": {"name": "analytics.js", "version": "4.1"}, "location": {"country": "FR", "city": "Lyon"},
			"device": {"id": "dev-123", "type": "mobile"}, "os": {"name": "iOS", "version": "17.1"},
			"page": {"url": "https://shop.example/?email=ann@example.com"}, "traits": {"email": "ann@example.com"},
			"campaign": {"name": "winter", "source": "newsletter", "medium": "email", "content": "ann"}}`,
	})
	_, err := b.ret.CreatePolicy(b.ctx, privacy.PolicyInput{Name: "anon", KeepDays: 365, Action: retentionpolicy.ActionAnonymize})
	require.NoError(t, err)
	res, err := b.ret.Sweep(b.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Rows)
	require.Zero(t, b.count(t, `SELECT count(*) FROM interactions`))

	var kind, eventName, props, ctxJSON, source, channel string
	var occurred time.Time
	var revenue sql.NullFloat64
	require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT kind, event, properties::text, context::text, occurred_at,
		revenue, source, channel FROM anonymous_interactions`).
		Scan(&kind, &eventName, &props, &ctxJSON, &occurred, &revenue, &source, &channel))
	require.Equal(t, "track", kind)
	require.Equal(t, "Order Completed", eventName)
	require.JSONEq(t, `{"revenue": 42.5, "currency": "EUR", "category": "books", "quantity": 2}`, props)
	require.JSONEq(t, `{"locale": "fr-FR", "library.name": "analytics.js", "library.version": "4.1",
		"location.country": "FR", "device.type": "mobile", "os.name": "iOS",
		"campaign.name": "winter", "campaign.source": "newsletter", "campaign.medium": "email"}`, ctxJSON)
	require.True(t, occurred.Equal(occurred.Truncate(time.Hour)), "occurred_at is truncated to the hour: %s", occurred)
	require.False(t, revenue.Valid)
	require.Equal(t, "key1", source)
	require.Equal(t, "web", channel)
	// The table has exactly the documented columns (plus its own id): nothing else can leak.
	var cols []string
	rows, err := b.db.QueryContext(b.ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_name = 'anonymous_interactions' AND column_name <> 'id' ORDER BY ordinal_position`)
	require.NoError(t, err)
	for rows.Next() {
		var c string
		require.NoError(t, rows.Scan(&c))
		cols = append(cols, c)
	}
	require.NoError(t, rows.Err())
	require.ElementsMatch(t, append([]string{"properties", "context"}, privacy.AnonymizedColumns...), cols)
	// The identified customer keeps their profile.
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE id = $1`, c))
}

func TestSweepInterruptedResumes(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t)
	c := b.customer(t, true)
	var evs []event
	for i := range 40 {
		age := 100
		if i%8 == 0 {
			age = 1 // 5 recent rows that stay
		}
		evs = append(evs, event{kind: "track", name: "Viewed", ageDays: age})
	}
	b.interactions(t, c, evs...)
	p, err := b.ret.CreatePolicy(b.ctx, privacy.PolicyInput{Name: "views", Event: ptr("Viewed"), KeepDays: 30, Action: retentionpolicy.ActionDelete})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(b.ctx)
	batches := 0
	_, err = b.ret.Sweep(ctx, &privacy.SweepOptions{BatchSize: 10, AfterBatch: func(uuid.UUID, int) {
		batches++
		if batches == 2 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	// Two batches committed, each whole; the rest untouched; the policy holds the position.
	require.Equal(t, 20, b.count(t, `SELECT count(*) FROM interactions`))
	p, err = b.client.RetentionPolicy.Get(b.ctx, p.ID)
	require.NoError(t, err)
	require.NotNil(t, p.SweepCursor)
	require.NotNil(t, p.SweepCutoff)
	require.Equal(t, int64(20), p.RowsAffected)
	require.Nil(t, p.LastRunAt)
	require.Zero(t, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'retention.run'`))

	res, err := b.ret.Sweep(b.ctx, &privacy.SweepOptions{BatchSize: 10})
	require.NoError(t, err)
	require.Len(t, res.Policies, 1)
	require.True(t, res.Policies[0].Resumed)
	require.Equal(t, int64(15), res.Rows)
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM interactions`))
	p, err = b.client.RetentionPolicy.Get(b.ctx, p.ID)
	require.NoError(t, err)
	require.Nil(t, p.SweepCursor)
	require.Nil(t, p.SweepCutoff)
	require.Equal(t, int64(35), p.RowsAffected)
	require.NotNil(t, p.LastRunAt)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'retention.run'
		AND target_id = $1 AND (details->>'rows')::int = 35`, p.ID.String()))

	// A fresh run finds nothing due and restarts the count.
	_, err = b.ret.Sweep(b.ctx, &privacy.SweepOptions{BatchSize: 10})
	require.NoError(t, err)
	p, err = b.client.RetentionPolicy.Get(b.ctx, p.ID)
	require.NoError(t, err)
	require.Zero(t, p.RowsAffected)
}

func TestSweepStopsWhenPolicyChanges(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t)
	c := b.customer(t, true)
	evs := make([]event, 30)
	for i := range evs {
		evs[i] = event{kind: "track", name: "Viewed", ageDays: 100}
	}
	b.interactions(t, c, evs...)
	p, err := b.ret.CreatePolicy(b.ctx, privacy.PolicyInput{Name: "views", KeepDays: 30, Action: retentionpolicy.ActionDelete})
	require.NoError(t, err)
	res, err := b.ret.Sweep(b.ctx, &privacy.SweepOptions{BatchSize: 10, AfterBatch: func(uuid.UUID, int) {
		_, err := b.ret.UpdatePolicy(b.ctx, p.ID, privacy.PolicyUpdate{KeepDays: ptr(200)})
		require.NoError(t, err)
	}})
	require.NoError(t, err)
	require.True(t, res.Policies[0].Stopped)
	require.Equal(t, int64(10), res.Rows)
	p, err = b.client.RetentionPolicy.Get(b.ctx, p.ID)
	require.NoError(t, err)
	require.Nil(t, p.SweepCursor, "a changed policy starts afresh")
}

func TestSweepRemovesCustomersLeftEmpty(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t)
	// empty: no identity, only old events, a consent and a merged-away profile pointing to it.
	empty := b.customer(t, false)
	b.interactions(t, empty, event{kind: "track", name: "Viewed", ageDays: 100})
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO consents (id, purpose, granted, recorded_at, customer_id)
		VALUES ($1, 'analytics', true, now(), $2)`, uuid.Must(uuid.NewV7()), empty)
	require.NoError(t, err)
	merged := b.customer(t, false)
	_, err = b.db.ExecContext(b.ctx, `UPDATE customers SET merged_into_id = $1, merged_at = now() WHERE id = $2`, empty, merged)
	require.NoError(t, err)
	// identified: loses its events but keeps its identity, so it stays.
	identified := b.customer(t, true)
	b.interactions(t, identified, event{kind: "track", name: "Viewed", ageDays: 100})
	// recent: no identity but a recent event, so it stays.
	recent := b.customer(t, false)
	b.interactions(t, recent, event{kind: "track", name: "Viewed", ageDays: 100}, event{kind: "track", name: "Viewed", ageDays: 1})
	// untouched: no identity and no events, but retention took nothing from it: not its business.
	untouched := b.customer(t, false)

	_, err = b.ret.CreatePolicy(b.ctx, privacy.PolicyInput{Name: "all", KeepDays: 30, Action: retentionpolicy.ActionDelete})
	require.NoError(t, err)
	res, err := b.ret.Sweep(b.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Rows)
	require.Equal(t, int64(2), res.CustomersRemoved)
	for _, tc := range []struct {
		name string
		id   uuid.UUID
		want int
	}{
		{"empty", empty, 0}, {"merged into empty", merged, 0}, {"identified", identified, 1},
		{"recent", recent, 1}, {"untouched", untouched, 1},
	} {
		require.Equal(t, tc.want, b.count(t, `SELECT count(*) FROM customers WHERE id = $1`, tc.id), tc.name)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM consents`))
}

func TestPolicyValidationAndAudit(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t)
	bad := []struct {
		name string
		in   privacy.PolicyInput
	}{
		{"no name", privacy.PolicyInput{KeepDays: 1, Action: retentionpolicy.ActionDelete}},
		{"zero days", privacy.PolicyInput{Name: "x", KeepDays: 0, Action: retentionpolicy.ActionDelete}},
		{"too many days", privacy.PolicyInput{Name: "x", KeepDays: privacy.MaxKeepDays + 1, Action: retentionpolicy.ActionDelete}},
		{"unknown action", privacy.PolicyInput{Name: "x", KeepDays: 1, Action: "shred"}},
		{"unknown kind", privacy.PolicyInput{Name: "x", KeepDays: 1, Action: retentionpolicy.ActionDelete, Kind: ptr(interaction.Kind("click"))}},
		{"empty glob", privacy.PolicyInput{Name: "x", KeepDays: 1, Action: retentionpolicy.ActionDelete, Event: ptr("")}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.ret.CreatePolicy(b.ctx, tc.in)
			require.ErrorIs(t, err, privacy.ErrInvalidPolicy)
		})
	}
	p, err := b.ret.CreatePolicy(b.ctx, privacy.PolicyInput{Name: "pages", Kind: ptr(interaction.KindPage), KeepDays: 90, Action: retentionpolicy.ActionAnonymize})
	require.NoError(t, err)
	require.True(t, p.Enabled)
	_, err = b.ret.UpdatePolicy(b.ctx, p.ID, privacy.PolicyUpdate{Kind: ptr(interaction.KindTrack), ClearKind: true})
	require.ErrorIs(t, err, privacy.ErrInvalidPolicy)
	p, err = b.ret.UpdatePolicy(b.ctx, p.ID, privacy.PolicyUpdate{ClearKind: true, Event: ptr("Viewed *"), Enabled: ptr(false)})
	require.NoError(t, err)
	require.Empty(t, p.Kind)
	require.Equal(t, "Viewed *", p.EventPattern)
	require.False(t, p.Enabled)
	require.NoError(t, b.ret.DeletePolicy(b.ctx, p.ID))
	require.ErrorIs(t, b.ret.DeletePolicy(b.ctx, p.ID), privacy.ErrPolicyNotFound)
	_, err = b.ret.UpdatePolicy(b.ctx, uuid.Must(uuid.NewV7()), privacy.PolicyUpdate{})
	require.ErrorIs(t, err, privacy.ErrPolicyNotFound)

	var actions []string
	rows, err := b.db.QueryContext(b.ctx, `SELECT action, details::text FROM audit_events WHERE target_id = $1 ORDER BY occurred_at, action`, p.ID.String())
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var a, d string
		require.NoError(t, rows.Scan(&a, &d))
		var details map[string]any
		require.NoError(t, json.Unmarshal([]byte(d), &details))
		require.Contains(t, details, "keep_days")
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"retention_policy.create", "retention_policy.update", "retention_policy.delete"}, actions)
}

func TestSweepRefusesASecondAtOnce(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t)
	c := b.customer(t, true)
	b.interactions(t, c, event{kind: "track", name: "Viewed", ageDays: 100}, event{kind: "track", name: "Viewed", ageDays: 100})
	_, err := b.ret.CreatePolicy(b.ctx, privacy.PolicyInput{Name: "all", KeepDays: 30, Action: retentionpolicy.ActionDelete})
	require.NoError(t, err)
	_, err = b.ret.Sweep(b.ctx, &privacy.SweepOptions{BatchSize: 1, AfterBatch: func(uuid.UUID, int) {
		_, err := b.ret.Sweep(b.ctx, nil)
		require.ErrorIs(t, err, privacy.ErrSweepRunning)
	}})
	require.NoError(t, err)
}
