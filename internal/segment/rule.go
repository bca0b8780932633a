package segment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/google/uuid"
)

// Rule is one node of a segment rule tree: GraphQL's SegmentRuleInput, and the JSON stored in
// segments.rule (same field names). A valid node sets exactly one field.
type Rule struct {
	And       []*Rule            `json:"and,omitempty"`
	Or        []*Rule            `json:"or,omitempty"`
	Not       *Rule              `json:"not,omitempty"`
	Trait     *TraitCondition    `json:"trait,omitempty"`
	Event     *EventCondition    `json:"event,omitempty"`
	RFM       *RFMCondition      `json:"rfm,omitempty"`
	Consent   *ConsentCondition  `json:"consent,omitempty"`
	Identity  *IdentityCondition `json:"identity,omitempty"`
	InSegment *uuid.UUID         `json:"inSegment,omitempty"`
}

// TraitCondition compares the trait at Key (a dotted path into traits) with Value.
type TraitCondition struct {
	Key   string `json:"key"`
	Op    Op     `json:"op"`
	Value any    `json:"value,omitempty"`
}

// PropertyCondition compares an event property (dotted path into properties) with Value, with
// the same typed semantics as TraitCondition.
type PropertyCondition struct {
	Key   string `json:"key"`
	Op    Op     `json:"op"`
	Value any    `json:"value,omitempty"`
}

// EventCondition matches customers by the events they performed.
type EventCondition struct {
	Name       string               `json:"name"`
	WithinDays *int                 `json:"withinDays,omitempty"`
	Count      *CountCondition      `json:"count,omitempty"`
	Where      []*PropertyCondition `json:"where,omitempty"`
}

// CountCondition compares the number of matching events with Value.
type CountCondition struct {
	Op    Op  `json:"op"`
	Value int `json:"value"`
}

// RFMCondition matches the RFM label and/or score ranges the ComputeRFM job stored on the
// customer. Every field set must hold; customers without RFM never match.
type RFMCondition struct {
	Label          *string   `json:"label,omitempty"`
	RecencyScore   *IntRange `json:"recencyScore,omitempty"`
	FrequencyScore *IntRange `json:"frequencyScore,omitempty"`
	MonetaryScore  *IntRange `json:"monetaryScore,omitempty"`
}

// IntRange is an inclusive range; a nil bound is open.
type IntRange struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

// ConsentCondition matches the customer's latest consent decision for Purpose.
type ConsentCondition struct {
	Purpose string `json:"purpose"`
	Granted bool   `json:"granted"`
}

// IdentityCondition matches customers that have (or lack) an identity of Type.
type IdentityCondition struct {
	Type   string `json:"type"`
	Exists bool   `json:"exists"`
}

// Op is a comparison operator.
type Op string

// The operators of GraphQL's enum Op.
const (
	OpEQ         Op = "EQ"
	OpNEQ        Op = "NEQ"
	OpGT         Op = "GT"
	OpGTE        Op = "GTE"
	OpLT         Op = "LT"
	OpLTE        Op = "LTE"
	OpContains   Op = "CONTAINS"
	OpStartsWith Op = "STARTS_WITH"
	OpIn         Op = "IN"
	OpExists     Op = "EXISTS"
	OpNotExists  Op = "NOT_EXISTS"
)

// Ops lists every operator.
var Ops = []Op{OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE, OpContains, OpStartsWith, OpIn, OpExists, OpNotExists}

// IsValid reports whether o is a known operator.
func (o Op) IsValid() bool {
	for _, k := range Ops {
		if o == k {
			return true
		}
	}
	return false
}

// UnmarshalGQL reads the GraphQL enum value.
func (o *Op) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("op must be a string, got %T", v)
	}
	*o = Op(s)
	if !o.IsValid() {
		return fmt.Errorf("%q is not a valid Op", s)
	}
	return nil
}

// MarshalGQL writes the GraphQL enum value.
func (o Op) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(o))) }

// ParseRule decodes a rule from its stored JSON. Numbers keep their exact decimal text
// (json.Number). It does not validate.
func ParseRule(data []byte) (*Rule, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var r Rule
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRule, err)
	}
	return &r, nil
}

// RuleFromMap converts the stored form (ent's map) to a Rule.
func RuleFromMap(m map[string]any) (*Rule, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("error encoding rule: %w", err)
	}
	return ParseRule(data)
}

// Map returns the rule in its stored form: JSON of the SegmentRuleInput shape, as a map.
func (r *Rule) Map() (map[string]any, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("error encoding rule: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("error decoding rule: %w", err)
	}
	return m, nil
}

// JSON returns the rule's stored JSON.
func (r *Rule) JSON() ([]byte, error) { return json.Marshal(r) }
