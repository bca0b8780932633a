package segment

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	n := func(s string) any { return json.Number(s) }
	intp := func(i int) *int { return &i }
	label := func(s string) *string { return &s }
	deep := trait("a", OpExists, nil)
	for i := 0; i < 10; i++ {
		deep = &Rule{Not: deep}
	}
	many := &Rule{}
	for i := 0; i < 101; i++ {
		many.Or = append(many.Or, trait("a", OpExists, nil))
	}
	tests := []struct {
		name string
		rule *Rule
		path string // "" = valid
		msg  string
	}{
		{"valid tree", &Rule{And: []*Rule{trait("plan", OpEQ, "pro"), {Not: ev(nil, nil)}}}, "", ""},
		{"empty node", &Rule{}, "rule", "sets none"},
		{"two fields", &Rule{Trait: &TraitCondition{Key: "a", Op: OpExists}, Consent: &ConsentCondition{Purpose: "analytics"}}, "rule", "it sets 2 (trait, consent)"},
		{"nested two fields", &Rule{And: []*Rule{trait("a", OpExists, nil), {Or: []*Rule{}, Not: trait("a", OpExists, nil)}}}, "rule.and[1]", "it sets 2"},
		{"empty and", &Rule{And: []*Rule{}}, "rule.and", "at least one"},
		{"null child", &Rule{Or: []*Rule{nil}}, "rule.or[0]", "null"},
		{"too deep", deep, "rule" + strings.Repeat(".not", 10), "deeper than 10"},
		{"ten levels is fine", deepRule(10), "", ""},
		{"too many conditions", many, "rule", "101 conditions"},
		{"unknown op", trait("a", "LIKE", "x"), "rule.trait.op", `unknown op "LIKE"`},
		{"empty key", trait("", OpExists, nil), "rule.trait.key", "empty"},
		{"empty path segment", trait("a..b", OpExists, nil), "rule.trait.key", "empty path segment"},
		{"EXISTS with value", trait("a", OpExists, "x"), "rule.trait.value", "EXISTS needs no value"},
		{"EQ null", trait("a", OpEQ, nil), "rule.trait.value", "got null"},
		{"EQ list", trait("a", OpEQ, []any{"x"}), "rule.trait.value", "got a list"},
		{"GT plain string", trait("a", OpGT, "abc"), "rule.trait.value", "number or an ISO 8601 date"},
		{"GT impossible date", trait("a", OpGT, "2023-02-29"), "rule.trait.value", "ISO 8601"},
		{"GT date ok", trait("a", OpGT, "2024-02-29"), "", ""},
		{"CONTAINS number", trait("a", OpContains, n("1")), "rule.trait.value", "non-empty string"},
		{"IN empty", trait("a", OpIn, []any{}), "rule.trait.value", "non-empty list"},
		{"IN object element", trait("a", OpIn, []any{"x", map[string]any{}}), "rule.trait.value[1]", "got an object"},
		{"event name", &Rule{Event: &EventCondition{Name: " "}}, "rule.event.name", "empty"},
		{"event days", &Rule{Event: &EventCondition{Name: "x", WithinDays: intp(0)}}, "rule.event.withinDays", "between 1"},
		{"count op", &Rule{Event: &EventCondition{Name: "x", Count: &CountCondition{Op: OpContains, Value: 1}}}, "rule.event.count.op", "EQ, NEQ"},
		{"count negative", &Rule{Event: &EventCondition{Name: "x", Count: &CountCondition{Op: OpGT, Value: -1}}}, "rule.event.count.value", "≥ 0"},
		{"where bad", &Rule{Or: []*Rule{{Event: &EventCondition{Name: "x", Where: []*PropertyCondition{{Key: "a", Op: OpGT, Value: true}}}}}}, "rule.or[0].event.where[0].value", "GT needs"},
		{"rfm empty", &Rule{RFM: &RFMCondition{}}, "rule.rfm", "set label"},
		{"rfm label", &Rule{RFM: &RFMCondition{Label: label("at risk")}}, "rule.rfm.label", `unknown RFM label "at risk"`},
		{"rfm range", &Rule{RFM: &RFMCondition{RecencyScore: &IntRange{Min: intp(4), Max: intp(2)}}}, "rule.rfm.recencyScore", "greater than max"},
		{"rfm score bounds", &Rule{RFM: &RFMCondition{FrequencyScore: &IntRange{Max: intp(6)}}}, "rule.rfm.frequencyScore.max", "1 to 5"},
		{"consent purpose", &Rule{Consent: &ConsentCondition{Purpose: "spam"}}, "rule.consent.purpose", "unknown purpose"},
		{"identity type", &Rule{Identity: &IdentityCondition{Type: "twitter"}}, "rule.identity.type", "unknown identity type"},
		{"identity external", &Rule{Identity: &IdentityCondition{Type: "external:crm", Exists: true}}, "", ""},
		{"inSegment nil", &Rule{InSegment: &uuid.Nil}, "rule.inSegment", "segment id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.rule)
			if tc.path == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidRule)
			var re *RuleError
			require.True(t, errors.As(err, &re))
			require.Equal(t, tc.path, re.Path)
			require.Contains(t, re.Msg, tc.msg)
			require.Contains(t, err.Error(), tc.path)
		})
	}
}

func deepRule(levels int) *Rule {
	r := trait("a", OpExists, nil)
	for i := 1; i < levels; i++ {
		r = &Rule{Not: r}
	}
	return r
}

func TestParseRuleRoundTrip(t *testing.T) {
	t.Parallel()
	src := `{"and":[{"trait":{"key":"age","op":"GTE","value":18.50}},{"not":{"event":{"name":"Order Completed","withinDays":30,"count":{"op":"EQ","value":0}}}},{"consent":{"purpose":"email_marketing","granted":false}},{"identity":{"type":"email","exists":false}}]}`
	r, err := ParseRule([]byte(src))
	require.NoError(t, err)
	require.NoError(t, Validate(r))
	require.Equal(t, json.Number("18.50"), r.And[0].Trait.Value)
	out, err := r.JSON()
	require.NoError(t, err)
	require.JSONEq(t, src, string(out))

	_, err = ParseRule([]byte(`{"trait":{"key":"a","op":"EQ","value":1,"extra":true}}`))
	require.ErrorIs(t, err, ErrInvalidRule)
}

func TestText(t *testing.T) {
	t.Parallel()
	days, seg := 30, uuid.MustParse("01900000-0000-7000-8000-000000000001")
	tests := []struct {
		rule *Rule
		want string
	}{
		{&Rule{And: []*Rule{trait("plan", OpEQ, "pro"), {Event: &EventCondition{Name: "Order Completed", WithinDays: &days, Count: &CountCondition{Op: OpGTE, Value: 3}}}}},
			"traits.plan = 'pro' AND performed 'Order Completed' ≥ 3 times in the last 30 days"},
		{&Rule{Not: &Rule{Event: &EventCondition{Name: "Signed Up", WithinDays: &days}}}, "did not perform 'Signed Up' in the last 30 days"},
		{&Rule{Or: []*Rule{trait("age", OpGT, json.Number("40")), {And: []*Rule{trait("a.b", OpExists, nil), trait("c", OpIn, []any{"x", json.Number("1")})}}}},
			"traits.age > 40 OR (traits.a.b exists AND traits.c in ('x', 1))"},
		{&Rule{Not: &Rule{Or: []*Rule{{Consent: &ConsentCondition{Purpose: "analytics", Granted: true}}, {Identity: &IdentityCondition{Type: "email", Exists: false}}}}},
			"NOT (consent to analytics granted OR has no email identity)"},
		{&Rule{InSegment: &seg}, "in segment 'VIP'"},
		{&Rule{Event: &EventCondition{Name: "Order Completed", Count: &CountCondition{Op: OpEQ, Value: 1}, Where: []*PropertyCondition{{Key: "total", Op: OpGTE, Value: json.Number("100")}}}},
			"performed 'Order Completed' = 1 time where total ≥ 100"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Text(tc.rule, map[uuid.UUID]string{seg: "VIP"}))
		})
	}
}
