package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limits bound what one operation may ask for, so a deeply nested or huge query gets an error
// instead of melting the database.
type Limits struct {
	MaxDepth      int // nesting of selections
	MaxCost       int // estimated rows touched: each field costs 1, connection children × page size
	MaxPageSize   int // largest first/last accepted
	DefaultPageSz int // page size of a connection without first/last (PageDefaults sets it)
	// WholeTableCost is the cost of a field that reads every row that matches, whatever the
	// page: a root connection's totalCount, segmentPreview's count, rfmSummary. On 1M
	// customers one such count reads for ~0.45 s, so MaxCost / WholeTableCost (25) of them
	// is the most one operation may ask for. A nested connection's totalCount reads one
	// parent's edge and costs MaxPageSize per parent.
	WholeTableCost int
}

// DefaultLimits are generous for real clients and stop abusive ones.
var DefaultLimits = Limits{MaxDepth: 15, MaxCost: 250_000, MaxPageSize: 1000, DefaultPageSz: 50, WholeTableCost: 10_000}

// wholeTableFields are the fields, beyond totalCount, that cost WholeTableCost.
var wholeTableFields = map[fieldKey]bool{{"SegmentPreview", "count"}: true, {"Query", "rfmSummary"}: true}

// fieldKey names a field of an object type without building a string per field walked.
type fieldKey struct{ object, field string }

// Check is an operation middleware enforcing the limits before any resolver runs.
func (l Limits) Check(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	w := walker{l: l, vars: oc.Variables, frags: oc.Doc.Fragments}
	cost, err := w.cost(oc.Operation.SelectionSet, 1, false)
	if err == nil && cost > l.MaxCost {
		err = fmt.Errorf("query is too expensive: estimated cost %d exceeds the limit of %d; ask for smaller pages, fewer nested connections or fewer counts (each totalCount, segmentPreview count or rfmSummary reads every matching row and costs %d)", cost, l.MaxCost, l.WholeTableCost)
	}
	if err != nil {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message: err.Error(), Extensions: map[string]any{"code": CodeBadUserInput},
		}}})
	}
	return next(ctx)
}

type walker struct {
	l     Limits
	vars  map[string]any
	frags ast.FragmentDefinitionList
}

// cost estimates the rows set reads at depth. nested says set is under a connection's rows, where
// a totalCount counts one parent's edge rather than a whole table.
func (w walker) cost(set ast.SelectionSet, depth int, nested bool) (int, error) {
	if depth > w.l.MaxDepth {
		return 0, fmt.Errorf("query is nested too deeply: more than %d levels", w.l.MaxDepth)
	}
	total := 0
	for _, sel := range set {
		c, err := w.selCost(sel, depth, nested)
		if err != nil {
			return 0, err
		}
		total += c
		if total > w.l.MaxCost {
			return total, nil // over the limit already: stop summing
		}
	}
	return total, nil
}

func (w walker) selCost(sel ast.Selection, depth int, nested bool) (int, error) {
	switch s := sel.(type) {
	case *ast.Field:
		return w.fieldCost(s, depth, nested)
	case *ast.InlineFragment:
		return w.cost(s.SelectionSet, depth, nested)
	case *ast.FragmentSpread:
		if def := w.frags.ForName(s.Name); def != nil {
			return w.cost(def.SelectionSet, depth, nested)
		}
	}
	return 0, nil
}

func (w walker) fieldCost(f *ast.Field, depth int, nested bool) (int, error) {
	if depth > w.l.MaxDepth {
		return 0, fmt.Errorf("query is nested too deeply: more than %d levels", w.l.MaxDepth)
	}
	own := 1
	if f.ObjectDefinition != nil && wholeTableFields[fieldKey{f.ObjectDefinition.Name, f.Name}] {
		own = w.l.WholeTableCost
	}
	if len(f.SelectionSet) == 0 {
		return own, nil
	}
	mult, err := w.pageSize(f)
	if err != nil {
		return 0, err
	}
	if mult == 0 { // not a connection
		child, err := w.cost(f.SelectionSet, depth+1, nested)
		return own + child, err
	}
	total := own
	for _, sel := range f.SelectionSet {
		c, err := w.connSelCost(sel, depth+1, mult, nested)
		if err != nil {
			return 0, err
		}
		total += c
		if total > w.l.MaxCost {
			break
		}
	}
	return total, nil
}

// connSelCost is the cost of one selection directly inside a connection of page size mult:
// totalCount once (a whole table's count unless nested under another connection's rows),
// everything else once per row.
func (w walker) connSelCost(sel ast.Selection, depth, mult int, nested bool) (int, error) {
	switch s := sel.(type) {
	case *ast.Field:
		if s.Name == "totalCount" {
			if nested {
				return w.l.MaxPageSize, nil
			}
			return w.l.WholeTableCost, nil
		}
		c, err := w.fieldCost(s, depth, true)
		if err != nil {
			return 0, err
		}
		if c > w.l.MaxCost { // c is capped near MaxCost, so mult*c cannot overflow
			return w.l.MaxCost + 1, nil
		}
		return mult * c, nil
	case *ast.InlineFragment:
		return w.connSetCost(s.SelectionSet, depth, mult, nested)
	case *ast.FragmentSpread:
		if def := w.frags.ForName(s.Name); def != nil {
			return w.connSetCost(def.SelectionSet, depth, mult, nested)
		}
	}
	return 0, nil
}

func (w walker) connSetCost(set ast.SelectionSet, depth, mult int, nested bool) (int, error) {
	total := 0
	for _, sel := range set {
		c, err := w.connSelCost(sel, depth, mult, nested)
		if err != nil {
			return 0, err
		}
		total += c
		if total > w.l.MaxCost {
			break
		}
	}
	return total, nil
}

// pageSize is the page size of a connection (a field with a first argument): its first/last, or
// the default when it gives neither. It is 0 for a field that is not a connection.
func (w walker) pageSize(f *ast.Field) (int, error) {
	isConn := false
	if f.Definition != nil {
		isConn = f.Definition.Arguments.ForName("first") != nil
	}
	if !isConn {
		return 0, nil
	}
	size := 0
	for _, name := range []string{"first", "last"} {
		a := f.Arguments.ForName(name)
		if a == nil {
			continue
		}
		v, err := a.Value.Value(w.vars)
		if err != nil {
			return 0, fmt.Errorf("argument %s: %w", name, err)
		}
		n, ok := toInt(v)
		if !ok {
			continue
		}
		if n < 0 {
			return 0, fmt.Errorf("%s: %s must not be negative", f.Name, name)
		}
		if n > w.l.MaxPageSize {
			return 0, fmt.Errorf("%s: %s must be at most %d", f.Name, name, w.l.MaxPageSize)
		}
		size = max(size, n)
	}
	if size == 0 {
		size = w.l.DefaultPageSz
	}
	return size, nil
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}
