package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/profile"
)

// A profile read (customer(id), customerByIdentity) asks for one customer with its identities
// and newest interactions. Read through ent's edges that is four statements (customer,
// identities, interaction count, interactions); profileLoad reads them in one
// (profile.Load) when the selection allows, and the Customer.identities and
// Customer.interactions resolvers answer from it. Anything else (a list of customers, an
// interactions page with a cursor, filter or another order, an edge below an identity or
// interaction) goes through ent as before.

// profileLoads holds an operation's preloaded profiles by the customer entity they came with.
type profileLoads struct {
	mu sync.Mutex
	m  map[*ent.Customer]*profilePreload
}

type profilePreload struct {
	l     *profile.Loaded
	first int // page size of the preloaded interactions
}

func (p *profileLoads) put(c *ent.Customer, pre *profilePreload) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[*ent.Customer]*profilePreload{}
	}
	p.m[c] = pre
}

func (p *profileLoads) get(c *ent.Customer) *profilePreload {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[c]
}

func loadsOf(ctx context.Context) *profileLoads {
	if bs, ok := ctx.Value(batchesKey{}).(*batches); ok {
		return &bs.profiles
	}
	return nil
}

// loadProfile reads the live customer id for a root field, with the edges its selection asks
// for when profile.Load can serve them.
func (r *Resolver) loadProfile(ctx context.Context, id uuid.UUID) (*ent.Customer, error) {
	loads := loadsOf(ctx)
	opts, first, ok := profileSelection(ctx)
	if loads == nil || !ok {
		return profile.Get(ctx, r.Client, id)
	}
	l, err := profile.Load(ctx, r.Client, id, opts)
	if err != nil {
		return nil, err
	}
	loads.put(l.Customer, &profilePreload{l: l, first: first})
	return l.Customer, nil
}

// profileSelection inspects the customer field's selection: at most one identities and one
// interactions field, the latter with only first (1..MaxLoadInteractions) and optionally an
// OCCURRED_AT orderBy, and neither selecting an edge of its own.
func profileSelection(ctx context.Context) (opts profile.LoadOptions, first int, ok bool) {
	oc := graphql.GetOperationContext(ctx)
	fc := graphql.GetFieldContext(ctx)
	if oc == nil || fc == nil {
		return opts, 0, false
	}
	var seenIdentities, seenInteractions bool
	for _, f := range graphql.CollectFields(oc, fc.Field.Selections, []string{"Customer"}) {
		switch f.Name {
		case "identities":
			if seenIdentities || !onlyScalars(oc, f.Selections, "Identity") {
				return opts, 0, false
			}
			seenIdentities, opts.Identities = true, true
		case "interactions":
			if seenInteractions {
				return opts, 0, false
			}
			seenInteractions = true
			args := f.ArgumentMap(oc.Variables)
			for name, v := range args {
				switch name {
				case "first", "orderBy":
				default:
					if v != nil {
						return opts, 0, false // after, before, last, where
					}
				}
			}
			n, isInt := toInt(args["first"])
			if !isInt || n < 1 || n > profile.MaxLoadInteractions {
				return opts, 0, false
			}
			ob, _ := args["orderBy"].(map[string]any)
			if ob == nil || ob["field"] != "OCCURRED_AT" {
				return opts, 0, false // the default order (by id) and others are left to ent
			}
			opts.Ascending = ob["direction"] != "DESC" // entgql's default direction is ASC
			withContext, scalarOnly := interactionPageSelection(oc, f.Selections)
			if !scalarOnly {
				return opts, 0, false
			}
			opts.Interactions, opts.WithContext, first = n, withContext, n
		}
	}
	return opts, first, true
}

// interactionPageSelection reports whether an InteractionConnection selection asks for the
// interactions' context, and whether the nodes select scalars only.
func interactionPageSelection(oc *graphql.OperationContext, sel ast.SelectionSet) (withContext, ok bool) {
	for _, f := range graphql.CollectFields(oc, sel, []string{"InteractionConnection"}) {
		if f.Name != "edges" {
			continue
		}
		for _, e := range graphql.CollectFields(oc, f.Selections, []string{"InteractionEdge"}) {
			if e.Name != "node" {
				continue
			}
			if !onlyScalars(oc, e.Selections, "Interaction") {
				return false, false
			}
			for _, n := range graphql.CollectFields(oc, e.Selections, []string{"Interaction", "Node"}) {
				withContext = withContext || n.Name == "context"
			}
		}
	}
	return withContext, true
}

// onlyScalars reports whether a selection on an object selects no field with a selection of
// its own (no edge).
func onlyScalars(oc *graphql.OperationContext, sel ast.SelectionSet, object string) bool {
	for _, f := range graphql.CollectFields(oc, sel, []string{object, "Node"}) {
		if len(f.Selections) > 0 {
			return false
		}
	}
	return true
}

// connection is the preloaded interactions as the page ent's Paginate would return for first
// (which the selection check made equal to the preloaded page size).
func (pre *profilePreload) connection(first *int) *ent.InteractionConnection {
	nodes := pre.l.Interactions
	conn := &ent.InteractionConnection{Edges: make([]*ent.InteractionEdge, 0, len(nodes)), TotalCount: pre.l.InteractionsTotal}
	if first != nil && *first == pre.first && len(nodes) > pre.first {
		conn.PageInfo.HasNextPage = true
		nodes = nodes[:pre.first]
	}
	for _, n := range nodes {
		conn.Edges = append(conn.Edges, &ent.InteractionEdge{Node: n, Cursor: ent.Cursor{ID: n.ID, Value: n.OccurredAt}})
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn
}
