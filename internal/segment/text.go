package segment

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Text renders a rule for people, e.g.
//
//	traits.plan = 'pro' AND performed 'Order Completed' ≥ 3 times in the last 30 days
//
// names maps segment ids to names for inSegment (an unknown id is shown as the id).
func Text(r *Rule, names map[uuid.UUID]string) string {
	return text(r, names, false)
}

var textOp = map[Op]string{
	OpEQ: "=", OpNEQ: "≠", OpGT: ">", OpGTE: "≥", OpLT: "<", OpLTE: "≤",
	OpContains: "contains", OpStartsWith: "starts with", OpIn: "in",
	OpExists: "exists", OpNotExists: "does not exist",
}

func text(r *Rule, names map[uuid.UUID]string, nested bool) string {
	if r == nil {
		return ""
	}
	switch {
	case r.And != nil || r.Or != nil:
		list, op := r.And, " AND "
		if r.Or != nil {
			list, op = r.Or, " OR "
		}
		parts := make([]string, len(list))
		for i, n := range list {
			parts[i] = text(n, names, len(list) > 1)
		}
		s := strings.Join(parts, op)
		if nested && len(list) > 1 {
			return "(" + s + ")"
		}
		return s
	case r.Not != nil:
		if e := r.Not.Event; e != nil && e.Count == nil {
			return "did not perform " + eventText(e)
		}
		return "NOT " + text(r.Not, names, true)
	case r.Trait != nil:
		return comparisonText("traits."+r.Trait.Key, r.Trait.Op, r.Trait.Value)
	case r.Event != nil:
		return "performed " + eventText(r.Event)
	case r.RFM != nil:
		var parts []string
		if r.RFM.Label != nil {
			parts = append(parts, "RFM label is "+quote(*r.RFM.Label))
		}
		for _, s := range []struct {
			name string
			r    *IntRange
		}{{"recency", r.RFM.RecencyScore}, {"frequency", r.RFM.FrequencyScore}, {"monetary", r.RFM.MonetaryScore}} {
			if s.r != nil {
				parts = append(parts, "RFM "+s.name+" score "+rangeText(s.r))
			}
		}
		s := strings.Join(parts, " and ")
		if nested && len(parts) > 1 {
			return "(" + s + ")"
		}
		return s
	case r.Consent != nil:
		if r.Consent.Granted {
			return "consent to " + r.Consent.Purpose + " granted"
		}
		return "consent to " + r.Consent.Purpose + " denied"
	case r.Identity != nil:
		if r.Identity.Exists {
			if t := r.Identity.Type; t != "" && strings.ContainsRune("aeiou", rune(t[0])) {
				return "has an " + r.Identity.Type + " identity"
			}
			return "has a " + r.Identity.Type + " identity"
		}
		return "has no " + r.Identity.Type + " identity"
	case r.InSegment != nil:
		if n, ok := names[*r.InSegment]; ok {
			return "in segment " + quote(n)
		}
		return "in segment " + r.InSegment.String()
	}
	return ""
}

func eventText(e *EventCondition) string {
	s := quote(e.Name)
	if c := e.Count; c != nil {
		unit := "times"
		if c.Value == 1 {
			unit = "time"
		}
		s += fmt.Sprintf(" %s %d %s", textOp[c.Op], c.Value, unit)
	}
	if e.WithinDays != nil {
		if *e.WithinDays == 1 {
			s += " in the last day"
		} else {
			s += fmt.Sprintf(" in the last %d days", *e.WithinDays)
		}
	}
	if len(e.Where) > 0 {
		parts := make([]string, len(e.Where))
		for i, w := range e.Where {
			parts[i] = comparisonText(w.Key, w.Op, w.Value)
		}
		s += " where " + strings.Join(parts, " and ")
	}
	return s
}

func comparisonText(key string, op Op, v any) string {
	switch op {
	case OpExists, OpNotExists:
		return key + " " + textOp[op]
	case OpIn:
		list, _ := v.([]any)
		parts := make([]string, len(list))
		for i, e := range list {
			parts[i] = valueText(e)
		}
		return key + " in (" + strings.Join(parts, ", ") + ")"
	}
	return key + " " + textOp[op] + " " + valueText(v)
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		return quote(s)
	}
	if n, ok := numberText(v); ok {
		return n
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

func rangeText(r *IntRange) string {
	switch {
	case r.Min != nil && r.Max != nil && *r.Min == *r.Max:
		return fmt.Sprintf("= %d", *r.Min)
	case r.Min != nil && r.Max != nil:
		return fmt.Sprintf("between %d and %d", *r.Min, *r.Max)
	case r.Min != nil:
		return fmt.Sprintf("≥ %d", *r.Min)
	case r.Max != nil:
		return fmt.Sprintf("≤ %d", *r.Max)
	}
	return ""
}
