package graph

import (
	"context"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// PageDefaults gives every connection field that asks for neither first nor last (or passes
// null for both) an explicit first of Size, so no connection returns a whole table.
//
// It rewrites the operation rather than the resolvers' arguments because ent's field
// collection reads first/last from the operation to preload nested edges (a customer's
// interactions) with a per-parent LIMIT: only a rewritten operation bounds what is fetched at
// every level. The parsed document is shared through the query cache, so the rewrite copies
// every node it changes and leaves the cached one untouched. It runs before the operation
// middlewares, so Limits.Check costs the pages that will be fetched.
type PageDefaults struct {
	Size int
}

var (
	_ graphql.HandlerExtension        = PageDefaults{}
	_ graphql.OperationContextMutator = PageDefaults{}
)

// ExtensionName implements graphql.HandlerExtension.
func (PageDefaults) ExtensionName() string { return "PageDefaults" }

// Validate implements graphql.HandlerExtension.
func (PageDefaults) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (p PageDefaults) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if p.Size <= 0 || oc.Doc == nil || oc.Operation == nil {
		return nil
	}
	rw := pageRewriter{size: strconv.Itoa(p.Size), vars: oc.Variables}
	doc := *oc.Doc
	doc.Fragments = make(ast.FragmentDefinitionList, len(oc.Doc.Fragments))
	for i, f := range oc.Doc.Fragments {
		cp := *f
		cp.SelectionSet = rw.selections(f.SelectionSet)
		doc.Fragments[i] = &cp
	}
	op := *oc.Operation
	op.SelectionSet = rw.selections(oc.Operation.SelectionSet)
	oc.Doc = &doc
	oc.Operation = &op
	return nil
}

type pageRewriter struct {
	size string
	vars map[string]any
}

// selections returns a copy of set in which every unbounded connection field has first.
func (rw pageRewriter) selections(set ast.SelectionSet) ast.SelectionSet {
	if set == nil {
		return nil
	}
	out := make(ast.SelectionSet, len(set))
	for i, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			cp := *s
			cp.SelectionSet = rw.selections(s.SelectionSet)
			if rw.unbounded(s) {
				cp.Arguments = withFirst(s.Arguments, rw.size)
			}
			out[i] = &cp
		case *ast.InlineFragment:
			cp := *s
			cp.SelectionSet = rw.selections(s.SelectionSet)
			out[i] = &cp
		default: // fragment spreads name a fragment, rewritten on its own
			out[i] = sel
		}
	}
	return out
}

// unbounded reports whether f is a connection (a field with a first argument) whose first and
// last are both absent or null once variables and schema defaults apply.
func (rw pageRewriter) unbounded(f *ast.Field) bool {
	if f.Definition == nil || f.Definition.Arguments.ForName("first") == nil {
		return false
	}
	for _, name := range []string{"first", "last"} {
		if v, ok := rw.argValue(f, name); ok && v != nil {
			return false
		}
	}
	return true
}

// argValue is the value of f's argument name: given, from a variable, or the schema default.
func (rw pageRewriter) argValue(f *ast.Field, name string) (any, bool) {
	if a := f.Arguments.ForName(name); a != nil {
		if a.Value.Kind == ast.Variable {
			v, ok := rw.vars[a.Value.Raw]
			return v, ok
		}
		v, err := a.Value.Value(rw.vars)
		return v, err == nil
	}
	if d := f.Definition.Arguments.ForName(name); d != nil && d.DefaultValue != nil {
		v, err := d.DefaultValue.Value(rw.vars)
		return v, err == nil
	}
	return nil, false
}

// withFirst returns args without any first argument, plus first: size.
func withFirst(args ast.ArgumentList, size string) ast.ArgumentList {
	out := make(ast.ArgumentList, 0, len(args)+1)
	for _, a := range args {
		if a.Name != "first" {
			out = append(out, a)
		}
	}
	return append(out, &ast.Argument{Name: "first", Value: &ast.Value{Kind: ast.IntValue, Raw: size}})
}
