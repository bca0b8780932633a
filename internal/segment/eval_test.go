package segment

import (
	"bytes"
	"encoding/json"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// This file is an independent, in-memory evaluator of rules over a dataset, written from the
// semantics in doc.go, that the randomized test compares the SQL compiler against.

type dataset struct {
	now        time.Time
	customers  []*memCustomer
	events     map[uuid.UUID][]*memEvent
	consents   map[uuid.UUID][]*memConsent
	identities map[uuid.UUID]map[string]bool
	members    map[uuid.UUID]map[uuid.UUID]bool // segment -> open members
}

type memCustomer struct {
	id       uuid.UUID
	traits   string // JSON
	merged   bool
	label    *string
	r, f, m  *int
	decoded  map[string]any
	traitsOK bool
}

type memEvent struct {
	name  string
	at    time.Time
	props string // JSON or "" for NULL
	dec   map[string]any
}

type memConsent struct {
	id      uuid.UUID
	purpose string
	granted bool
	at      time.Time
}

func decodeJSON(s string) map[string]any {
	if s == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(err)
	}
	return m
}

// evalMatches returns the ids of the live customers matching r.
func (d *dataset) evalMatches(r *Rule) map[uuid.UUID]bool {
	out := map[uuid.UUID]bool{}
	for _, c := range d.customers {
		if !c.merged && d.eval(r, c) {
			out[c.id] = true
		}
	}
	return out
}

func (d *dataset) eval(r *Rule, c *memCustomer) bool {
	switch {
	case r.And != nil:
		for _, n := range r.And {
			if !d.eval(n, c) {
				return false
			}
		}
		return true
	case r.Or != nil:
		for _, n := range r.Or {
			if d.eval(n, c) {
				return true
			}
		}
		return false
	case r.Not != nil:
		return !d.eval(r.Not, c)
	case r.Trait != nil:
		if c.decoded == nil {
			c.decoded = decodeJSON(c.traits)
		}
		v, ok := lookup(c.decoded, strings.Split(r.Trait.Key, "."))
		return evalCmp(v, ok, r.Trait.Op, r.Trait.Value)
	case r.Event != nil:
		e := r.Event
		n := 0
		for _, ev := range d.events[c.id] {
			if ev.name != e.Name {
				continue
			}
			if e.WithinDays != nil && ev.at.Before(d.now.Add(-time.Duration(*e.WithinDays)*24*time.Hour)) {
				continue
			}
			if ev.dec == nil && ev.props != "" {
				ev.dec = decodeJSON(ev.props)
			}
			ok := true
			for _, w := range e.Where {
				var v any
				var present bool
				if ev.props != "" {
					v, present = lookup(ev.dec, strings.Split(w.Key, "."))
				}
				if !evalCmp(v, present, w.Op, w.Value) {
					ok = false
					break
				}
			}
			if ok {
				n++
			}
		}
		if e.Count == nil {
			return n > 0
		}
		return cmpInt(n, e.Count.Op, e.Count.Value)
	case r.RFM != nil:
		if c.label == nil && c.r == nil {
			return false
		}
		if r.RFM.Label != nil && (c.label == nil || *c.label != *r.RFM.Label) {
			return false
		}
		for _, s := range []struct {
			v  *int
			rg *IntRange
		}{{c.r, r.RFM.RecencyScore}, {c.f, r.RFM.FrequencyScore}, {c.m, r.RFM.MonetaryScore}} {
			if s.rg == nil {
				continue
			}
			if s.v == nil || (s.rg.Min != nil && *s.v < *s.rg.Min) || (s.rg.Max != nil && *s.v > *s.rg.Max) {
				return false
			}
		}
		return true
	case r.Consent != nil:
		var latest *memConsent
		for _, k := range d.consents[c.id] {
			if k.purpose != r.Consent.Purpose {
				continue
			}
			if latest == nil || k.at.After(latest.at) || (k.at.Equal(latest.at) && bytes.Compare(k.id[:], latest.id[:]) > 0) {
				latest = k
			}
		}
		return latest != nil && latest.granted == r.Consent.Granted
	case r.Identity != nil:
		return d.identities[c.id][r.Identity.Type] == r.Identity.Exists
	case r.InSegment != nil:
		return d.members[*r.InSegment][c.id]
	}
	panic("empty rule")
}

// lookup follows a path the way Postgres' #> does: object keys, and integer indexes into arrays
// (negative from the end).
func lookup(v any, path []string) (any, bool) {
	cur := v
	for _, p := range path {
		switch x := cur.(type) {
		case map[string]any:
			n, ok := x[p]
			if !ok {
				return nil, false
			}
			cur = n
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil {
				return nil, false
			}
			if i < 0 {
				i += len(x)
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func evalCmp(v any, present bool, op Op, want any) bool {
	exists := present && v != nil
	switch op {
	case OpExists:
		return exists
	case OpNotExists:
		return !exists
	}
	if !exists {
		return false
	}
	switch op {
	case OpIn:
		for _, e := range want.([]any) {
			switch w := e.(type) {
			case string:
				if s, ok := v.(string); ok && strings.ToLower(s) == strings.ToLower(w) {
					return true
				}
			case bool:
				if b, ok := v.(bool); ok && b == w {
					return true
				}
			default:
				if n, ok := v.(json.Number); ok && ratOf(string(n)).Cmp(ratOf(numText(w))) == 0 {
					return true
				}
			}
		}
		return false
	case OpContains:
		s, ok := v.(string)
		return ok && strings.Contains(strings.ToLower(s), strings.ToLower(want.(string)))
	case OpStartsWith:
		s, ok := v.(string)
		return ok && strings.HasPrefix(strings.ToLower(s), strings.ToLower(want.(string)))
	}
	if ws, ok := want.(string); ok {
		if wt, ok := parseISO(ws); ok {
			s, ok := v.(string)
			if !ok {
				return false
			}
			t, ok := parseISO(s)
			if !ok {
				return false
			}
			return cmpResult(t.Compare(wt), op)
		}
		s, ok := v.(string)
		if !ok {
			return false
		}
		return cmpResult(strings.Compare(strings.ToLower(s), strings.ToLower(ws)), op)
	}
	if wb, ok := want.(bool); ok {
		b, ok := v.(bool)
		if !ok {
			return false
		}
		switch op {
		case OpEQ:
			return b == wb
		case OpNEQ:
			return b != wb
		}
		return false
	}
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	return cmpResult(ratOf(string(n)).Cmp(ratOf(numText(want))), op)
}

func numText(v any) string {
	s, ok := numberText(v)
	if !ok {
		panic("not a number")
	}
	return s
}

func ratOf(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad number " + s)
	}
	return r
}

func cmpResult(c int, op Op) bool {
	switch op {
	case OpEQ:
		return c == 0
	case OpNEQ:
		return c != 0
	case OpGT:
		return c > 0
	case OpGTE:
		return c >= 0
	case OpLT:
		return c < 0
	case OpLTE:
		return c <= 0
	}
	panic("op " + string(op))
}

func cmpInt(n int, op Op, v int) bool {
	switch {
	case n < v:
		return cmpResult(-1, op)
	case n > v:
		return cmpResult(1, op)
	}
	return cmpResult(0, op)
}

func sortedIDs(m map[uuid.UUID]bool) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id.String())
	}
	sort.Strings(out)
	return out
}
