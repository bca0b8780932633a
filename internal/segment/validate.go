package segment

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/rfm"
)

// Limits of a rule tree.
const (
	MaxDepth      = 10   // nesting levels, the root being level 1
	MaxConditions = 100  // leaf conditions (trait, event, rfm, consent, identity, inSegment)
	MaxInValues   = 1000 // values in one IN list
	maxKeyLen     = 256
	maxDays       = 36500
)

// ConsentPurposes are the consent purposes DESIGN.md defines.
var ConsentPurposes = []string{"email_marketing", "sms_marketing", "analytics", "personalization"}

// identityTypes are the fixed identity types; "external:<source>" is also accepted.
var identityTypes = []string{"anonymous_id", "user_id", "email", "phone", "device_id"}

// Validate checks the shape of a rule tree: exactly one field per node, known operators and
// value types per operator, depth ≤ MaxDepth, at most MaxConditions conditions. The error is a
// *RuleError naming the path of the first bad node. References (inSegment) are checked against
// the database by the Service.
func Validate(r *Rule) error {
	v := validator{}
	if err := v.node(r, "rule", 1); err != nil {
		return err
	}
	if v.conditions > MaxConditions {
		return &RuleError{Path: "rule", Msg: fmt.Sprintf("the rule has %d conditions; at most %d are allowed", v.conditions, MaxConditions)}
	}
	return nil
}

type validator struct{ conditions int }

func (v *validator) node(r *Rule, path string, depth int) error {
	if r == nil {
		return &RuleError{Path: path, Msg: "a rule node must not be null"}
	}
	if depth > MaxDepth {
		return &RuleError{Path: path, Msg: fmt.Sprintf("the rule nests deeper than %d levels", MaxDepth)}
	}
	set := r.setFields()
	if len(set) != 1 {
		msg := "a rule node must set exactly one of and, or, not, trait, event, rfm, consent, identity, inSegment"
		if len(set) == 0 {
			return &RuleError{Path: path, Msg: msg + "; it sets none"}
		}
		return &RuleError{Path: path, Msg: fmt.Sprintf("%s; it sets %d (%s)", msg, len(set), strings.Join(set, ", "))}
	}
	switch {
	case r.And != nil || r.Or != nil:
		name, list := "and", r.And
		if r.Or != nil {
			name, list = "or", r.Or
		}
		if len(list) == 0 {
			return &RuleError{Path: path + "." + name, Msg: "must hold at least one rule"}
		}
		for i, c := range list {
			if err := v.node(c, fmt.Sprintf("%s.%s[%d]", path, name, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	case r.Not != nil:
		return v.node(r.Not, path+".not", depth+1)
	}
	v.conditions++
	switch {
	case r.Trait != nil:
		return validateComparison(path+".trait", r.Trait.Key, r.Trait.Op, r.Trait.Value)
	case r.Event != nil:
		return validateEvent(path+".event", r.Event)
	case r.RFM != nil:
		return validateRFM(path+".rfm", r.RFM)
	case r.Consent != nil:
		if !slices.Contains(ConsentPurposes, r.Consent.Purpose) {
			return &RuleError{Path: path + ".consent.purpose", Msg: fmt.Sprintf("unknown purpose %q; use one of %s", r.Consent.Purpose, strings.Join(ConsentPurposes, ", "))}
		}
		return nil
	case r.Identity != nil:
		t := r.Identity.Type
		if !slices.Contains(identityTypes, t) && !(strings.HasPrefix(t, "external:") && len(t) > len("external:")) {
			return &RuleError{Path: path + ".identity.type", Msg: fmt.Sprintf("unknown identity type %q; use one of %s or external:<source>", t, strings.Join(identityTypes, ", "))}
		}
		return nil
	case r.InSegment != nil:
		if *r.InSegment == uuid.Nil {
			return &RuleError{Path: path + ".inSegment", Msg: "must be a segment id"}
		}
		return nil
	}
	return nil
}

// setFields names the fields a node sets.
func (r *Rule) setFields() []string {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(r.And != nil, "and")
	add(r.Or != nil, "or")
	add(r.Not != nil, "not")
	add(r.Trait != nil, "trait")
	add(r.Event != nil, "event")
	add(r.RFM != nil, "rfm")
	add(r.Consent != nil, "consent")
	add(r.Identity != nil, "identity")
	add(r.InSegment != nil, "inSegment")
	return set
}

// validateComparison checks a trait or property condition.
func validateComparison(path, key string, op Op, value any) error {
	if key == "" {
		return &RuleError{Path: path + ".key", Msg: "must not be empty"}
	}
	if len(key) > maxKeyLen {
		return &RuleError{Path: path + ".key", Msg: fmt.Sprintf("is longer than %d bytes", maxKeyLen)}
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" {
			return &RuleError{Path: path + ".key", Msg: fmt.Sprintf("%q has an empty path segment; nested keys are written a.b.c", key)}
		}
	}
	if !op.IsValid() {
		return &RuleError{Path: path + ".op", Msg: fmt.Sprintf("unknown op %q", op)}
	}
	k := kindOf(value)
	bad := func(want string) error {
		return &RuleError{Path: path + ".value", Msg: fmt.Sprintf("%s needs %s, got %s", op, want, describe(value))}
	}
	switch op {
	case OpExists, OpNotExists:
		if k != kindNone {
			return bad("no value")
		}
	case OpEQ, OpNEQ:
		if k != kindString && k != kindNumber && k != kindBool {
			return bad("a string, number or boolean value")
		}
	case OpGT, OpGTE, OpLT, OpLTE:
		if _, ok := isDateValue(value); !ok && k != kindNumber {
			return bad("a number or an ISO 8601 date value (2024-05-01 or 2024-05-01T10:00:00Z)")
		}
	case OpContains, OpStartsWith:
		if s, ok := value.(string); !ok || s == "" {
			return bad("a non-empty string value")
		}
	case OpIn:
		list, ok := value.([]any)
		if !ok || len(list) == 0 {
			return bad("a non-empty list value")
		}
		if len(list) > MaxInValues {
			return &RuleError{Path: path + ".value", Msg: fmt.Sprintf("IN takes at most %d values, got %d", MaxInValues, len(list))}
		}
		for i, e := range list {
			if ek := kindOf(e); ek != kindString && ek != kindNumber && ek != kindBool {
				return &RuleError{Path: fmt.Sprintf("%s.value[%d]", path, i), Msg: fmt.Sprintf("IN values must be strings, numbers or booleans, got %s", describe(e))}
			}
		}
	}
	if k == kindNumber {
		if _, ok := numberText(value); !ok {
			return bad("a finite number")
		}
	}
	return nil
}

func describe(v any) string {
	switch kindOf(v) {
	case kindNone:
		return "null"
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindList:
		return "a list"
	}
	return "an object"
}

func validateEvent(path string, e *EventCondition) error {
	if strings.TrimSpace(e.Name) == "" {
		return &RuleError{Path: path + ".name", Msg: "must not be empty"}
	}
	if e.WithinDays != nil && (*e.WithinDays < 1 || *e.WithinDays > maxDays) {
		return &RuleError{Path: path + ".withinDays", Msg: fmt.Sprintf("must be between 1 and %d, got %d", maxDays, *e.WithinDays)}
	}
	if c := e.Count; c != nil {
		switch c.Op {
		case OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE:
		default:
			return &RuleError{Path: path + ".count.op", Msg: fmt.Sprintf("a count compares with EQ, NEQ, GT, GTE, LT or LTE, not %q", c.Op)}
		}
		if c.Value < 0 {
			return &RuleError{Path: path + ".count.value", Msg: fmt.Sprintf("must be ≥ 0, got %d", c.Value)}
		}
	}
	for i, w := range e.Where {
		p := fmt.Sprintf("%s.where[%d]", path, i)
		if w == nil {
			return &RuleError{Path: p, Msg: "must not be null"}
		}
		if err := validateComparison(p, w.Key, w.Op, w.Value); err != nil {
			return err
		}
	}
	return nil
}

func validateRFM(path string, c *RFMCondition) error {
	if c.Label == nil && c.RecencyScore == nil && c.FrequencyScore == nil && c.MonetaryScore == nil {
		return &RuleError{Path: path, Msg: "set label or at least one of recencyScore, frequencyScore, monetaryScore"}
	}
	if c.Label != nil && !slices.Contains(rfm.Labels, *c.Label) {
		return &RuleError{Path: path + ".label", Msg: fmt.Sprintf("unknown RFM label %q; use one of %s", *c.Label, strings.Join(rfm.Labels, ", "))}
	}
	for _, s := range []struct {
		name string
		r    *IntRange
	}{{"recencyScore", c.RecencyScore}, {"frequencyScore", c.FrequencyScore}, {"monetaryScore", c.MonetaryScore}} {
		if s.r == nil {
			continue
		}
		p := path + "." + s.name
		if s.r.Min == nil && s.r.Max == nil {
			return &RuleError{Path: p, Msg: "set min, max or both"}
		}
		for _, b := range []struct {
			name string
			v    *int
		}{{"min", s.r.Min}, {"max", s.r.Max}} {
			if b.v != nil && (*b.v < 1 || *b.v > 5) {
				return &RuleError{Path: p + "." + b.name, Msg: fmt.Sprintf("scores are 1 to 5, got %d", *b.v)}
			}
		}
		if s.r.Min != nil && s.r.Max != nil && *s.r.Min > *s.r.Max {
			return &RuleError{Path: p, Msg: fmt.Sprintf("min %d is greater than max %d", *s.r.Min, *s.r.Max)}
		}
	}
	return nil
}

// References returns the segment ids the rule refers to with inSegment.
func References(r *Rule) []uuid.UUID {
	var ids []uuid.UUID
	var walk func(*Rule)
	walk = func(n *Rule) {
		if n == nil {
			return
		}
		for _, c := range n.And {
			walk(c)
		}
		for _, c := range n.Or {
			walk(c)
		}
		walk(n.Not)
		if n.InSegment != nil {
			ids = append(ids, *n.InSegment)
		}
	}
	walk(r)
	return ids
}
