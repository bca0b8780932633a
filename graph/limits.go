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
	DefaultPageSz int // page size assumed for a connection without first/last
}

// DefaultLimits are generous for real clients and stop abusive ones.
var DefaultLimits = Limits{MaxDepth: 15, MaxCost: 250_000, MaxPageSize: 1000, DefaultPageSz: 100}

// Check is an operation middleware enforcing the limits before any resolver runs.
func (l Limits) Check(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	w := walker{l: l, vars: oc.Variables, frags: oc.Doc.Fragments}
	cost, err := w.cost(oc.Operation.SelectionSet, 1)
	if err == nil && cost > l.MaxCost {
		err = fmt.Errorf("query is too expensive: estimated cost %d exceeds the limit of %d; ask for smaller pages or fewer nested connections", cost, l.MaxCost)
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

func (w walker) cost(set ast.SelectionSet, depth int) (int, error) {
	if depth > w.l.MaxDepth {
		return 0, fmt.Errorf("query is nested too deeply: more than %d levels", w.l.MaxDepth)
	}
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				total++
				continue
			}
			mult, err := w.pageSize(s)
			if err != nil {
				return 0, err
			}
			child, err := w.cost(s.SelectionSet, depth+1)
			if err != nil {
				return 0, err
			}
			if mult*child > w.l.MaxCost { // child is capped near MaxCost, so this cannot overflow
				return w.l.MaxCost + 1, nil // over the limit already: stop summing
			}
			total += 1 + mult*child
		case *ast.InlineFragment:
			c, err := w.cost(s.SelectionSet, depth)
			if err != nil {
				return 0, err
			}
			total += c
		case *ast.FragmentSpread:
			def := w.frags.ForName(s.Name)
			if def == nil {
				continue
			}
			c, err := w.cost(def.SelectionSet, depth)
			if err != nil {
				return 0, err
			}
			total += c
		}
		if total > w.l.MaxCost {
			return total, nil
		}
	}
	return total, nil
}

// pageSize is the multiplier for a field's children: its first/last, or the default for a
// connection (a field with a first argument) that gives neither, else 1.
func (w walker) pageSize(f *ast.Field) (int, error) {
	isConn := false
	if f.Definition != nil {
		isConn = f.Definition.Arguments.ForName("first") != nil
	}
	if !isConn {
		return 1, nil
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
