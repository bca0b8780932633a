package segment

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Explanation is a rule evaluated for one customer: every node's value and, for each leaf
// condition, what was observed. Nodes are in pre-order, root first.
type Explanation struct {
	CustomerID uuid.UUID
	Matches    bool
	Nodes      []ExplainNode
}

// ExplainNode is one node of an Explanation.
type ExplainNode struct {
	// Path locates the node as RuleError paths do: "rule", "rule.and[1]", "rule.and[1].not".
	Path string
	// ParentPath is the parent's Path; empty for the root.
	ParentPath string
	// Kind is the field the node sets: and, or, not, trait, event, rfm, consent, identity,
	// inSegment.
	Kind    string
	Text    string
	Matched bool
	// Observed says in words what a leaf condition looked at; empty for and/or/not.
	Observed string
	// Fact is the same as a JSON-able value; nil for and/or/not.
	Fact any
}

// Explain evaluates every node of r for one live customer. A node's value is the compiled
// node (the same compiler as Preview and Compute, restricted to the customer with
// CompileOptions.CustomerIDs) run as its own query, so it cannot disagree with membership;
// the observed facts are read beside it, in the same read-only snapshot. customerID must be a
// live (not merged-away) customer; a merged-away or unknown one matches nothing.
func (s *Service) Explain(ctx context.Context, r *Rule, customerID uuid.UUID) (*Explanation, error) {
	if err := Validate(r); err != nil {
		return nil, err
	}
	out := &Explanation{CustomerID: customerID}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		names, err := segmentNames(ctx, tx, References(r))
		if err != nil {
			return err
		}
		e := explainer{ctx: ctx, tx: tx, now: s.now(), id: customerID, names: names}
		return e.node(r, "rule", "", &out.Nodes)
	})
	if err != nil {
		return nil, fmt.Errorf("error explaining segment rule: %w", err)
	}
	out.Matches = out.Nodes[0].Matched
	return out, nil
}

type explainer struct {
	ctx   context.Context
	tx    *sql.Tx
	now   time.Time
	id    uuid.UUID
	names map[uuid.UUID]string
}

// node appends r's entry, then its children's, to out.
func (e *explainer) node(r *Rule, path, parent string, out *[]ExplainNode) error {
	matched, err := e.holds(r)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	n := ExplainNode{Path: path, ParentPath: parent, Kind: kindOfNode(r), Text: Text(r, e.names), Matched: matched}
	if err := e.observe(r, &n); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	*out = append(*out, n)
	switch {
	case r.And != nil || r.Or != nil:
		name, list := "and", r.And
		if r.Or != nil {
			name, list = "or", r.Or
		}
		for i, c := range list {
			if err := e.node(c, fmt.Sprintf("%s.%s[%d]", path, name, i), path, out); err != nil {
				return err
			}
		}
	case r.Not != nil:
		return e.node(r.Not, path+".not", path, out)
	}
	return nil
}

// holds runs the node compiled on its own, restricted to the one customer.
func (e *explainer) holds(r *Rule) (bool, error) {
	q := compileValid(r, CompileOptions{Now: e.now, CustomerIDs: []uuid.UUID{e.id}}).Count()
	var n int
	if err := e.tx.QueryRowContext(e.ctx, q.SQL, q.Args...).Scan(&n); err != nil {
		return false, fmt.Errorf("error evaluating rule node: %w", err)
	}
	return n > 0, nil
}

func kindOfNode(r *Rule) string {
	if f := r.setFields(); len(f) == 1 {
		return f[0]
	}
	return ""
}

// observe fills the facts a leaf condition reads.
func (e *explainer) observe(r *Rule, n *ExplainNode) error {
	switch {
	case r.Trait != nil:
		var raw []byte
		err := e.tx.QueryRowContext(e.ctx, `SELECT c.traits #> $1::text[] FROM customers c WHERE c.id = $2`,
			pq.StringArray(strings.Split(r.Trait.Key, ".")), e.id).Scan(&raw)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("error reading trait: %w", err)
		}
		if raw == nil || string(raw) == "null" {
			n.Observed = "traits." + r.Trait.Key + " is not set"
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("error decoding trait: %w", err)
		}
		n.Fact = map[string]any{"value": v}
		n.Observed = "traits." + r.Trait.Key + " is " + valueText(v)
	case r.Event != nil:
		// The same event filter the compiler counts with.
		c := &compiler{now: e.now}
		var f frag
		f.sql("SELECT count(*), max(i.occurred_at) FROM interactions i WHERE i.customer_id = ")
		f.arg(e.id.String())
		f.sql("::uuid AND ")
		c.eventFilter(&f, r.Event)
		q, args := f.render(0)
		var count int
		var latest sql.NullTime
		if err := e.tx.QueryRowContext(e.ctx, q, args...).Scan(&count, &latest); err != nil {
			return fmt.Errorf("error counting events: %w", err)
		}
		fact := map[string]any{"count": count}
		n.Observed = fmt.Sprintf("%d matching %s", count, plural(count, "event", "events"))
		if r.Event.WithinDays != nil {
			n.Observed += fmt.Sprintf(" in the last %d days", *r.Event.WithinDays)
		}
		if latest.Valid {
			fact["latestAt"] = latest.Time.UTC().Format(time.RFC3339)
			n.Observed += ", latest " + latest.Time.UTC().Format("2006-01-02 15:04")
		}
		n.Fact = fact
	case r.RFM != nil:
		var label sql.NullString
		var rs, fs, ms sql.NullInt64
		err := e.tx.QueryRowContext(e.ctx, `SELECT rfm_label, rfm_recency_score, rfm_frequency_score, rfm_monetary_score FROM customers WHERE id = $1`, e.id).
			Scan(&label, &rs, &fs, &ms)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("error reading RFM: %w", err)
		}
		if !label.Valid {
			n.Observed = "no RFM (no order in the window)"
			return nil
		}
		n.Fact = map[string]any{"label": label.String, "recencyScore": rs.Int64, "frequencyScore": fs.Int64, "monetaryScore": ms.Int64}
		n.Observed = fmt.Sprintf("RFM %s (R%d F%d M%d)", label.String, rs.Int64, fs.Int64, ms.Int64)
	case r.Consent != nil:
		var granted bool
		var at time.Time
		err := e.tx.QueryRowContext(e.ctx, `SELECT k.granted, k.recorded_at FROM consents k WHERE k.customer_id = $1 AND k.purpose = $2
			ORDER BY k.recorded_at DESC, k.id DESC LIMIT 1`, e.id, r.Consent.Purpose).Scan(&granted, &at)
		if errors.Is(err, sql.ErrNoRows) {
			n.Observed = "no " + r.Consent.Purpose + " consent recorded"
			return nil
		}
		if err != nil {
			return fmt.Errorf("error reading consent: %w", err)
		}
		word := "denied"
		if granted {
			word = "granted"
		}
		n.Fact = map[string]any{"granted": granted, "recordedAt": at.UTC().Format(time.RFC3339)}
		n.Observed = fmt.Sprintf("latest %s consent: %s on %s", r.Consent.Purpose, word, at.UTC().Format("2006-01-02"))
	case r.Identity != nil:
		var count int
		if err := e.tx.QueryRowContext(e.ctx, `SELECT count(*) FROM identities WHERE customer_id = $1 AND type = $2`, e.id, r.Identity.Type).Scan(&count); err != nil {
			return fmt.Errorf("error counting identities: %w", err)
		}
		n.Fact = map[string]any{"count": count}
		n.Observed = fmt.Sprintf("%d %s %s", count, r.Identity.Type, plural(count, "identity", "identities"))
	case r.InSegment != nil:
		var entered time.Time
		err := e.tx.QueryRowContext(e.ctx, `SELECT entered_at FROM segment_memberships WHERE segment_id = $1 AND customer_id = $2 AND exited_at IS NULL`,
			*r.InSegment, e.id).Scan(&entered)
		if errors.Is(err, sql.ErrNoRows) {
			n.Fact = map[string]any{"member": false}
			n.Observed = "not a current member"
			return nil
		}
		if err != nil {
			return fmt.Errorf("error reading membership: %w", err)
		}
		n.Fact = map[string]any{"member": true, "enteredAt": entered.UTC().Format(time.RFC3339)}
		n.Observed = "member since " + entered.UTC().Format("2006-01-02")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// segmentNames maps the referenced segments' ids to their names (for the nodes' text).
func segmentNames(ctx context.Context, tx *sql.Tx, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	names := map[uuid.UUID]string{}
	if len(ids) == 0 {
		return names, nil
	}
	arr := make(pq.StringArray, len(ids))
	for i, id := range ids {
		arr[i] = id.String()
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM segments WHERE id = ANY($1::uuid[])`, arr)
	if err != nil {
		return nil, fmt.Errorf("error loading referenced segments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("error loading referenced segments: %w", err)
		}
		names[id] = name
	}
	return names, rows.Err()
}
