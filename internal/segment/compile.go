package segment

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/pgarray"
)

// Query is compiled SQL with its arguments; placeholders are $1..$n.
type Query struct {
	SQL  string
	Args []any
}

// CompileOptions tune the compiled query.
type CompileOptions struct {
	// Now is the reference time of withinDays windows. Zero: time.Now().
	Now time.Time
	// CustomerIDs restricts the query to these customers (incremental re-evaluation). Nil: all.
	CustomerIDs []uuid.UUID
	// JoinFirst joins the driving event condition's events to the customers that pass the
	// rule's row-level conditions before counting them, instead of counting every customer's
	// events and then reading each counted customer's row (see pickDriver). Which is faster
	// depends on the data; Service.compile decides from the planner's estimates.
	JoinFirst bool
}

// Program is a compiled rule: the customers matching it are
//
//	SELECT c.id FROM customers c <joins> WHERE c.merged_into_id IS NULL [AND c.id = ANY(ids)] AND <where>
//
// Event count conditions become LEFT JOINs to per-customer aggregates (so the counts are
// usable under OR and NOT, and zero-event customers count as 0), except the driver (see
// pickDriver), which is inner-joined; every other condition is an expression on the customer
// row, with EXISTS / scalar subqueries for identities, consents, memberships and "performed at
// least once" events.
type Program struct {
	joins frag
	where frag
	ids   []uuid.UUID
}

// Compile compiles a validated rule. It returns a *RuleError for an invalid rule.
func Compile(r *Rule, opts CompileOptions) (*Program, error) {
	if err := Validate(r); err != nil {
		return nil, err
	}
	return compileValid(r, opts), nil
}

// compileValid compiles a rule Validate has accepted.
func compileValid(r *Rule, opts CompileOptions) *Program {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := &compiler{now: now, ids: opts.CustomerIDs}
	c.driver, c.rowLevel = pickDriver(r)
	if !opts.JoinFirst {
		c.rowLevel = nil
		if c.driver != nil && c.driver.Count == nil {
			// "Performed at least once" stays a correlated EXISTS (a semi-join the planner can
			// stop early on) unless joining first: as a driver it would count every event.
			c.driver = nil
		}
	}
	c.node(&c.p.where, r)
	c.p.ids = opts.CustomerIDs
	return &c.p
}

// IDs is the query listing the matching customers' ids (unordered).
func (p *Program) IDs() Query { return p.render("SELECT c.id", "") }

// Count is the query counting the matching customers.
func (p *Program) Count() Query { return p.render("SELECT count(*)", "") }

func (p *Program) render(head, tail string) Query {
	var f frag
	p.body(&f, head)
	f.sql(tail)
	s, args := f.render(0)
	return Query{SQL: s, Args: args}
}

func (p *Program) body(f *frag, head string) {
	f.sql(head, " FROM customers c")
	f.add(&p.joins)
	f.sql(" WHERE c.merged_into_id IS NULL")
	if p.ids != nil {
		f.sql(" AND c.id = ANY(")
		f.arg(pgarray.UUIDs(p.ids))
		f.sql("::uuid[])")
	}
	f.sql(" AND ")
	f.add(&p.where)
}

// Predicate is the rule as an ent predicate on the customers table ("customers"."id" IN
// (compiled ids)), for paginating matches with ent (segmentPreview's sample).
func (p *Program) Predicate() func(*entsql.Selector) {
	return func(s *entsql.Selector) {
		s.Where(entsql.P(func(b *entsql.Builder) {
			b.Ident(s.C("id")).WriteString(" IN (")
			var f frag
			p.body(&f, "SELECT c.id")
			for _, t := range f.toks {
				if t.isArg {
					b.Arg(t.arg)
				} else {
					b.WriteString(t.s)
				}
			}
			b.WriteString(")")
		}))
	}
}

// frag is SQL text interleaved with arguments; placeholders are numbered when rendered, so
// fragments compose in any order.
type frag struct{ toks []tok }

type tok struct {
	s     string
	arg   any
	isArg bool
}

func (f *frag) sql(parts ...string) {
	for _, s := range parts {
		f.toks = append(f.toks, tok{s: s})
	}
}

func (f *frag) arg(v any) { f.toks = append(f.toks, tok{arg: v, isArg: true}) }

func (f *frag) add(g *frag) { f.toks = append(f.toks, g.toks...) }

func (f *frag) render(offset int) (string, []any) {
	var b strings.Builder
	var args []any
	for _, t := range f.toks {
		if t.isArg {
			args = append(args, t.arg)
			b.WriteString("$" + strconv.Itoa(offset+len(args)))
		} else {
			b.WriteString(t.s)
		}
	}
	return b.String(), args
}

type compiler struct {
	p     Program
	now   time.Time
	ids   []uuid.UUID
	njoin int
	// driver, when set, is a top-level conjunct event condition that needs at least one event:
	// its aggregate is inner-joined (every match has a row in it) and, with rowLevel (the
	// top-level conjuncts on the customer row alone: traits, rfm), computed over the events of
	// customers that pass those conjuncts. See pickDriver.
	driver   *EventCondition
	rowLevel []*Rule
}

// pickDriver chooses the event condition that drives a rule's query: the first top-level
// conjunct (of the root AND, or the root itself) that is an event condition no zero-event
// customer satisfies ("performed at least once", or a count excluding 0). Its aggregate is
// inner-joined, so the planner may start from it. rowLevel are the top-level conjuncts that only
// read the customer row. Both are implied by the rule, so restricting the candidates to
// customers with the driver's events and passing rowLevel cannot lose a match; the full rule is
// still evaluated on every candidate.
//
// With JoinFirst, the driver's events are joined to the customers passing rowLevel before they
// are counted. For "plan = 'pro' AND Page Viewed ≥ 2 in 30 days AND consent" on 1M customers,
// counting first aggregates the window's 802k events into 163k customers and then probes each
// by primary key for the trait (~1 s of probes, 1.7 s in all); joining the events to the
// customers that pass the trait first (a hash join of the window with a scan of customers,
// which PostgreSQL runs in parallel) and counting what remains takes ~0.85 s. For "Order
// Completed ≥ 3 in 30 days" (92k events, 2.7k customers with 3) counting first takes 70 ms and
// the scan of customers alone 0.45 s. See PLANS.md.
func pickDriver(r *Rule) (*EventCondition, []*Rule) {
	conj := []*Rule{r}
	if r.And != nil {
		conj = r.And
	}
	var driver *EventCondition
	var rowLevel []*Rule
	for _, n := range conj {
		switch {
		case n.Event != nil && driver == nil && (n.Event.Count == nil || !admitsZero(n.Event.Count.Op, n.Event.Count.Value)):
			driver = n.Event
		case readsRowOnly(n):
			rowLevel = append(rowLevel, n)
		}
	}
	return driver, rowLevel
}

// DriverEvents returns the query selecting the events of r's driving event condition (see
// pickDriver) and the fewest of them a matching customer has, for estimating with EXPLAIN
// whether JoinFirst pays; ok is false when r has no driver or no row-level conjunct.
func DriverEvents(r *Rule, now time.Time) (q Query, minCount int, ok bool) {
	d, rowLevel := pickDriver(r)
	if d == nil || len(rowLevel) == 0 {
		return Query{}, 0, false
	}
	c := &compiler{now: now}
	var f frag
	f.sql("SELECT 1 FROM interactions i WHERE ")
	c.eventFilter(&f, d)
	q.SQL, q.Args = f.render(0)
	minCount = 1
	if d.Count != nil {
		switch v := d.Count.Value; d.Count.Op {
		case OpEQ, OpGTE:
			minCount = max(v, 1)
		case OpGT:
			minCount = max(v+1, 1)
		}
	}
	return q, minCount, true
}

// readsRowOnly reports whether r only reads the customer row (traits, rfm), so it can be
// evaluated inside the driver's aggregate.
func readsRowOnly(r *Rule) bool {
	switch {
	case r.Trait != nil || r.RFM != nil:
		return true
	case r.Not != nil:
		return readsRowOnly(r.Not)
	case r.And != nil || r.Or != nil:
		for _, n := range append(r.And, r.Or...) {
			if !readsRowOnly(n) {
				return false
			}
		}
		return true
	}
	return false
}

// node writes r as a boolean expression. An expression may yield NULL where it does not match
// (a missing trait, no consent row); NULL acts as false in WHERE, in AND and in OR alike, and
// each NOT coalesces its operand first, so NULL never leaks through a negation.
func (c *compiler) node(f *frag, r *Rule) {
	switch {
	case r.And != nil || r.Or != nil:
		list, op := r.And, " AND "
		if r.Or != nil {
			list, op = r.Or, " OR "
		}
		f.sql("(")
		for i, n := range list {
			if i > 0 {
				f.sql(op)
			}
			c.node(f, n)
		}
		f.sql(")")
	case r.Not != nil:
		f.sql("NOT COALESCE(")
		c.node(f, r.Not)
		f.sql(", false)")
	case r.Trait != nil:
		comparison(f, "c.traits", r.Trait.Key, r.Trait.Op, r.Trait.Value)
	case r.Event != nil:
		c.event(f, r.Event)
	case r.RFM != nil:
		rfmCondition(f, r.RFM)
	case r.Consent != nil:
		// The latest decision per (customer, purpose) wins; ties on recorded_at go to the later
		// row id (UUIDv7). Index consent_customer_id_purpose_recorded_at, read backwards.
		f.sql("(SELECT k.granted FROM consents k WHERE k.customer_id = c.id AND k.purpose = ")
		f.arg(r.Consent.Purpose)
		f.sql(" ORDER BY k.recorded_at DESC, k.id DESC LIMIT 1) = ")
		f.arg(r.Consent.Granted)
		f.sql("::boolean")
	case r.Identity != nil:
		if !r.Identity.Exists {
			f.sql("NOT ")
		}
		f.sql("EXISTS (SELECT 1 FROM identities x WHERE x.customer_id = c.id AND x.type = ")
		f.arg(r.Identity.Type)
		f.sql(")")
	case r.InSegment != nil:
		f.sql("EXISTS (SELECT 1 FROM segment_memberships m WHERE m.segment_id = ")
		f.arg(r.InSegment.String())
		f.sql("::uuid AND m.customer_id = c.id AND m.exited_at IS NULL)")
	}
}

// event compiles an event condition. "At least once" is a correlated EXISTS on
// (customer_id, event, occurred_at); a count is a LEFT JOIN to a per-customer aggregate of the
// window, compared with COALESCE(n, 0) when the comparison holds for zero events.
func (c *compiler) event(f *frag, e *EventCondition) {
	filter := func(g *frag) { c.eventFilter(g, e) }
	driver := e == c.driver
	if e.Count == nil && !driver {
		f.sql("EXISTS (SELECT 1 FROM interactions i WHERE i.customer_id = c.id AND ")
		filter(f)
		f.sql(")")
		return
	}
	alias := fmt.Sprintf("e%d", c.njoin)
	c.njoin++
	j := &c.p.joins
	if driver {
		// Inner join: a match has at least one such event. The inner customers c shadows the
		// outer one, so the row-level conjuncts compile unchanged.
		j.sql(" JOIN (SELECT i.customer_id, count(*) AS n FROM interactions i")
		if len(c.rowLevel) > 0 {
			j.sql(" JOIN customers c ON c.id = i.customer_id")
		}
		j.sql(" WHERE ")
	} else {
		j.sql(" LEFT JOIN (SELECT i.customer_id, count(*) AS n FROM interactions i WHERE ")
	}
	filter(j)
	if c.ids != nil {
		j.sql(" AND i.customer_id = ANY(")
		j.arg(pgarray.UUIDs(c.ids))
		j.sql("::uuid[])")
	}
	if driver && len(c.rowLevel) > 0 {
		j.sql(" AND c.merged_into_id IS NULL")
		for _, r := range c.rowLevel {
			j.sql(" AND ")
			c.node(j, r)
		}
	}
	j.sql(" GROUP BY i.customer_id) ", alias, " ON ", alias, ".customer_id = c.id")
	if e.Count == nil {
		f.sql("true") // the inner join is the condition
		return
	}
	n := alias + ".n"
	if admitsZero(e.Count.Op, e.Count.Value) {
		n = "COALESCE(" + n + ", 0)"
	}
	f.sql("(", n, " ", sqlOp[e.Count.Op], " ")
	f.arg(e.Count.Value)
	f.sql("::bigint)")
}

// eventFilter writes the condition on interactions i selecting e's events.
func (c *compiler) eventFilter(g *frag, e *EventCondition) {
	g.sql("i.event = ")
	g.arg(e.Name)
	if e.WithinDays != nil {
		g.sql(" AND i.occurred_at >= ")
		g.arg(c.now.Add(-time.Duration(*e.WithinDays) * 24 * time.Hour))
		g.sql("::timestamptz")
	}
	for _, w := range e.Where {
		g.sql(" AND ")
		comparison(g, "i.properties", w.Key, w.Op, w.Value)
	}
}

// admitsZero reports whether "0 op v" holds, i.e. whether customers without matching events
// satisfy the count condition.
func admitsZero(op Op, v int) bool {
	switch op {
	case OpEQ, OpGTE:
		return v == 0
	case OpNEQ, OpLT:
		return v != 0
	case OpLTE:
		return true
	}
	return false
}

var sqlOp = map[Op]string{OpEQ: "=", OpNEQ: "<>", OpGT: ">", OpGTE: ">=", OpLT: "<", OpLTE: "<="}

// icu folds case the same way whatever the database's LC_CTYPE is.
const icu = ` COLLATE "und-x-icu"`

// comparison writes a typed comparison of the JSON value at key (a dotted path, passed as a
// text[] parameter to #> / #>>) in col with value. See the package doc for the semantics.
func comparison(f *frag, col, key string, op Op, value any) {
	path := pq.StringArray(strings.Split(key, "."))
	jv := func() { f.sql("(", col, " #> "); f.arg(path); f.sql("::text[])") }
	tv := func() { f.sql("(", col, " #>> "); f.arg(path); f.sql("::text[])") }
	typeIs := func(t string) { f.sql("CASE WHEN jsonb_typeof"); jv(); f.sql(" = '", t, "' THEN ") }
	lowerText := func() { f.sql("lower("); tv(); f.sql(icu, ")") }
	lowerArg := func(s string) { f.sql("lower("); f.arg(s); f.sql("::text", icu, ")") }

	switch op {
	case OpExists, OpNotExists:
		f.sql("(COALESCE(jsonb_typeof")
		jv()
		if op == OpExists {
			f.sql(", 'null') <> 'null')")
		} else {
			f.sql(", 'null') = 'null')")
		}
		return
	case OpContains, OpStartsWith:
		typeIs("string")
		if op == OpContains {
			f.sql("strpos(")
			lowerText()
			f.sql(", ")
			lowerArg(value.(string))
			f.sql(") > 0 END")
		} else {
			f.sql("starts_with(")
			lowerText()
			f.sql(", ")
			lowerArg(value.(string))
			f.sql(") END")
		}
		return
	case OpIn:
		var strs, nums []string
		var bools []bool
		for _, e := range value.([]any) {
			switch kindOf(e) {
			case kindString:
				strs = append(strs, e.(string))
			case kindNumber:
				n, _ := numberText(e)
				nums = append(nums, n)
			case kindBool:
				bools = append(bools, e.(bool))
			}
		}
		f.sql("CASE jsonb_typeof")
		jv()
		if strs != nil {
			f.sql(" WHEN 'string' THEN ")
			lowerText()
			f.sql(" = ANY(ARRAY(SELECT lower(s", icu, ") FROM unnest(")
			f.arg(pq.StringArray(strs))
			f.sql("::text[]) s))")
		}
		if nums != nil {
			f.sql(" WHEN 'number' THEN ")
			jv()
			f.sql("::numeric = ANY(")
			f.arg(pq.StringArray(nums))
			f.sql("::numeric[])")
		}
		if bools != nil {
			f.sql(" WHEN 'boolean' THEN ")
			jv()
			f.sql("::boolean = ANY(")
			f.arg(pq.BoolArray(bools))
			f.sql("::boolean[])")
		}
		f.sql(" END")
		return
	}
	// EQ NEQ GT GTE LT LTE
	sop := sqlOp[op]
	if t, ok := isDateValue(value); ok {
		typeIs("string")
		f.sql("cairn_segment_ts")
		tv()
		f.sql(" ", sop, " ")
		f.arg(t)
		f.sql("::timestamptz END")
		return
	}
	switch kindOf(value) {
	case kindNumber:
		n, _ := numberText(value)
		typeIs("number")
		jv()
		f.sql("::numeric ", sop, " ")
		f.arg(n)
		f.sql("::numeric END")
	case kindBool:
		typeIs("boolean")
		jv()
		f.sql("::boolean ", sop, " ")
		f.arg(value.(bool))
		f.sql("::boolean END")
	case kindString:
		typeIs("string")
		lowerText()
		f.sql(" ", sop, " ")
		lowerArg(value.(string))
		f.sql(" END")
	}
}

func rfmCondition(f *frag, r *RFMCondition) {
	// Customers without RFM have NULL columns: every comparison is NULL, so they never match.
	f.sql("(true")
	if r.Label != nil {
		f.sql(" AND c.rfm_label = ")
		f.arg(*r.Label)
	}
	for _, s := range []struct {
		col string
		r   *IntRange
	}{{"c.rfm_recency_score", r.RecencyScore}, {"c.rfm_frequency_score", r.FrequencyScore}, {"c.rfm_monetary_score", r.MonetaryScore}} {
		if s.r == nil {
			continue
		}
		if s.r.Min != nil {
			f.sql(" AND ", s.col, " >= ")
			f.arg(*s.r.Min)
		}
		if s.r.Max != nil {
			f.sql(" AND ", s.col, " <= ")
			f.arg(*s.r.Max)
		}
	}
	f.sql(")")
}
