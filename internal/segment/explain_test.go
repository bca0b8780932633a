package segment

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/schematype"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	client := txn.NewClient(db)
	now := time.Now().UTC()
	svc := &Service{DB: db, Now: func() time.Time { return now }}

	customer := func(traits map[string]any, orders int) uuid.UUID {
		c, err := client.Customer.Create().SetTraits(schematype.MustObject(traits)).Save(ctx)
		require.NoError(t, err)
		for i := range orders {
			_, err := client.Interaction.Create().SetKind(interaction.KindTrack).SetEvent("Order Completed").
				SetMessageID(uuid.NewString()).SetOccurredAt(now.Add(-time.Duration(i+1) * time.Hour)).SetCustomerID(c.ID).Save(ctx)
			require.NoError(t, err)
		}
		return c.ID
	}
	member := customer(map[string]any{"plan": "pro"}, 3)
	fewOrders := customer(map[string]any{"plan": "pro"}, 1)
	noPlan := customer(map[string]any{}, 0)
	_, err := client.Consent.Create().SetCustomerID(member).SetPurpose("email_marketing").SetGranted(true).Save(ctx)
	require.NoError(t, err)

	days := 30
	rule := &Rule{And: []*Rule{
		{Trait: &TraitCondition{Key: "plan", Op: OpEQ, Value: "pro"}},
		{Event: &EventCondition{Name: "Order Completed", WithinDays: &days, Count: &CountCondition{Op: OpGTE, Value: 3}}},
		{Not: &Rule{Consent: &ConsentCondition{Purpose: "email_marketing", Granted: false}}},
	}}

	tests := []struct {
		name     string
		customer uuid.UUID
		matched  map[string]bool
		observed map[string]string
	}{
		{"member", member,
			map[string]bool{"rule": true, "rule.and[0]": true, "rule.and[1]": true, "rule.and[2]": true, "rule.and[2].not": false},
			map[string]string{"rule.and[0]": "traits.plan is 'pro'", "rule.and[2].not": "latest email_marketing consent: granted on " + now.Format("2006-01-02")}},
		{"too few orders", fewOrders,
			map[string]bool{"rule": false, "rule.and[0]": true, "rule.and[1]": false, "rule.and[2]": true, "rule.and[2].not": false},
			map[string]string{"rule.and[2].not": "no email_marketing consent recorded"}},
		{"no trait, no orders", noPlan,
			map[string]bool{"rule": false, "rule.and[0]": false, "rule.and[1]": false, "rule.and[2]": true, "rule.and[2].not": false},
			map[string]string{"rule.and[0]": "traits.plan is not set", "rule.and[1]": "0 matching events in the last 30 days"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := svc.Explain(ctx, rule, tc.customer)
			require.NoError(t, err)
			got := map[string]bool{}
			for _, n := range ex.Nodes {
				got[n.Path] = n.Matched
			}
			require.Equal(t, tc.matched, got)
			require.Equal(t, tc.matched["rule"], ex.Matches)
			for _, n := range ex.Nodes {
				if want, ok := tc.observed[n.Path]; ok {
					require.Equal(t, want, n.Observed, n.Path)
				}
			}
			// The root's value is what a computation decides: the compiled rule over everyone.
			p, err := Compile(rule, CompileOptions{Now: now})
			require.NoError(t, err)
			q := p.IDs()
			var ids []uuid.UUID
			rows, err := db.QueryContext(ctx, q.SQL, q.Args...)
			require.NoError(t, err)
			for rows.Next() {
				var id uuid.UUID
				require.NoError(t, rows.Scan(&id))
				ids = append(ids, id)
			}
			require.NoError(t, rows.Err())
			require.Equal(t, ex.Matches, slices.Contains(ids, tc.customer))
		})
	}

	t.Run("event facts", func(t *testing.T) {
		ex, err := svc.Explain(ctx, rule, member)
		require.NoError(t, err)
		require.Equal(t, "rule.and[1]", ex.Nodes[2].Path)
		require.Equal(t, "rule", ex.Nodes[2].ParentPath)
		require.Equal(t, "event", ex.Nodes[2].Kind)
		require.Equal(t, 3, ex.Nodes[2].Fact.(map[string]any)["count"])
		require.Contains(t, ex.Nodes[2].Observed, "3 matching events in the last 30 days, latest ")
	})
	t.Run("invalid rule", func(t *testing.T) {
		_, err := svc.Explain(ctx, &Rule{}, member)
		require.ErrorIs(t, err, ErrInvalidRule)
	})
}

func TestSuggestions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	client := txn.NewClient(db)
	svc := &Service{DB: db}
	c, err := client.Customer.Create().SetTraits(schematype.MustObject(map[string]any{"plan": "pro", "address": map[string]any{"city": "Oslo"}})).Save(ctx)
	require.NoError(t, err)
	for _, name := range []string{"Signed Up", "Order Completed", "Order Refunded"} {
		_, err := client.Interaction.Create().SetKind(interaction.KindTrack).SetEvent(name).
			SetMessageID(uuid.NewString()).SetOccurredAt(time.Now()).SetCustomerID(c.ID).Save(ctx)
		require.NoError(t, err)
	}
	tests := []struct {
		name   string
		list   func(context.Context, string, int) ([]string, error)
		prefix string
		want   []string
	}{
		{"trait keys", svc.TraitKeys, "", []string{"address.city", "plan"}},
		{"trait keys by prefix", svc.TraitKeys, "ADD", []string{"address.city"}},
		{"event names", svc.EventNames, "", []string{"Order Completed", "Order Refunded", "Signed Up"}},
		{"event names by prefix", svc.EventNames, "Order", []string{"Order Completed", "Order Refunded"}},
		{"no match", svc.EventNames, "Zzz", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.list(ctx, tc.prefix, 10)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err = svc.EventNames(ctx, "", 0)
	require.ErrorIs(t, err, ErrInvalidInput)
}
