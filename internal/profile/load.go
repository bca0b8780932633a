package profile

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/customer"
	"github.com/cairn-cdp/cairn/internal/stmtcache"
)

// MaxLoadInteractions bounds LoadOptions.Interactions.
const MaxLoadInteractions = 1000

// LoadOptions says which edges Load reads with the customer.
type LoadOptions struct {
	Identities bool
	// Interactions > 0 reads that many interactions plus one (to tell whether there are more)
	// in occurred_at order (then id), and their total count.
	Interactions int
	Ascending    bool // oldest first instead of newest first
	WithContext  bool // include each interaction's context (often the largest column)
}

// Loaded is a live customer with the edges LoadOptions asked for. The edge entities are
// decoded from JSON, not read by ent: they carry no client, so their own edges cannot be
// queried from them.
type Loaded struct {
	Customer          *ent.Customer
	Identities        []*ent.Identity    // nil unless asked for
	Interactions      []*ent.Interaction // up to Interactions+1; nil unless asked for
	InteractionsTotal int
}

// Load returns the live customer for id (following merges like Get) with the edges opts asks
// for, in one SQL statement per merge hop: the customer by primary key, its identities
// (identity_customer_id_type), its interaction count and newest (or oldest) interactions
// (interaction_customer_id_occurred_at) as correlated subqueries building JSON.
func Load(ctx context.Context, client *ent.Client, id uuid.UUID, opts LoadOptions) (*Loaded, error) {
	if opts.Interactions < 0 || opts.Interactions > MaxLoadInteractions {
		return nil, fmt.Errorf("interactions to load must be between 0 and %d", MaxLoadInteractions)
	}
	// The statement's text depends only on opts: prepared (on a pool client), it skips a round
	// trip and PostgreSQL's parsing and planning.
	ctx = stmtcache.Use(ctx)
	for range maxMergeHops {
		cs, err := client.Customer.Query().Where(customer.ID(id)).Modify(opts.modifier).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("error loading customer %s: %w", id, err)
		}
		if len(cs) == 0 {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		c := cs[0]
		if c.MergedIntoID != nil {
			id = *c.MergedIntoID
			continue
		}
		return opts.decode(c)
	}
	return nil, fmt.Errorf("error loading customer %s: merge chain longer than %d", id, maxMergeHops)
}

const (
	colIdentities   = "profile_identities"
	colInteractions = "profile_interactions"
	colTotal        = "profile_interactions_total"
)

// interactionColumns are the interaction columns Load reads, by their JSON names in
// ent.Interaction (which are the column names).
var interactionColumns = []string{"id", "kind", "event", "properties", "occurred_at", "received_at",
	"message_id", "revenue", "source", "channel", "customer_id"}

func (o LoadOptions) modifier(s *entsql.Selector) {
	id := s.C(customer.FieldID)
	if o.Identities {
		s.AppendSelectExprAs(entsql.Expr(`(SELECT coalesce(json_agg(i.*), '[]'::json) FROM identities i WHERE i.customer_id = `+id+`)`), colIdentities)
	}
	if o.Interactions > 0 {
		cols := interactionColumns
		if o.WithContext {
			cols = append(cols[:len(cols):len(cols)], "context")
		}
		dir := "DESC"
		if o.Ascending {
			dir = "ASC"
		}
		s.AppendSelectExprAs(entsql.Expr(`(SELECT count(*) FROM interactions x WHERE x.customer_id = `+id+`)`), colTotal)
		// LIMIT is our own bounded int, never user text.
		s.AppendSelectExprAs(entsql.Expr(fmt.Sprintf(`(SELECT coalesce(json_agg(x ORDER BY x.occurred_at %[1]s, x.id %[1]s), '[]'::json)
  FROM (SELECT %[2]s FROM interactions WHERE customer_id = %[3]s ORDER BY occurred_at %[1]s, id %[1]s LIMIT %[4]d) x)`,
			dir, strings.Join(cols, ", "), id, o.Interactions+1)), colInteractions)
	}
}

func (o LoadOptions) decode(c *ent.Customer) (*Loaded, error) {
	l := &Loaded{Customer: c}
	if o.Identities {
		if err := decodeValue(c, colIdentities, &l.Identities); err != nil {
			return nil, err
		}
	}
	if o.Interactions > 0 {
		if err := decodeValue(c, colInteractions, &l.Interactions); err != nil {
			return nil, err
		}
		v, err := c.Value(colTotal)
		if err != nil {
			return nil, err
		}
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("error loading customer %s: interaction count is %T", c.ID, v)
		}
		l.InteractionsTotal = int(n)
	}
	return l, nil
}

func decodeValue(c *ent.Customer, col string, dst any) error {
	v, err := c.Value(col)
	if err != nil {
		return err
	}
	var raw []byte
	switch b := v.(type) {
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		return fmt.Errorf("error loading customer %s: %s is %T", c.ID, col, v)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("error decoding %s of customer %s: %w", col, c.ID, err)
	}
	return nil
}
