package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// countFree returns the context to hand ent's Paginate for a connection field. entgql's
// Paginate runs a COUNT over every matching row whenever pageInfo is selected, although it
// only needs the count for totalCount: hasNextPage and the cursors come from the page itself
// (it fetches first+1 rows). When totalCount is not selected, countFree hides pageInfo from
// Paginate, which skips the count; gqlgen still resolves pageInfo from the returned
// connection, whose PageInfo Paginate always fills.
func countFree(ctx context.Context) context.Context {
	fc := graphql.GetFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return ctx
	}
	fields := graphql.CollectFields(oc, fc.Field.Selections, nil)
	hasPageInfo := false
	for _, f := range fields {
		switch f.Name {
		case "totalCount":
			return ctx
		case "pageInfo":
			hasPageInfo = true
		}
	}
	if !hasPageInfo {
		return ctx
	}
	return withoutFields(ctx, fc, fields, "pageInfo")
}

// pageOnly returns the context to hand ent's Paginate for a connection whose totalCount the
// caller counts itself: totalCount and pageInfo hidden, so Paginate runs no COUNT (pageInfo is
// still filled, see countFree). ok is false when the selection has no edges: Paginate then
// answers from its COUNT alone, and the caller must let it.
func pageOnly(ctx context.Context) (_ context.Context, totalCount, ok bool) {
	fc := graphql.GetFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return ctx, false, false
	}
	fields := graphql.CollectFields(oc, fc.Field.Selections, nil)
	for _, f := range fields {
		switch f.Name {
		case "totalCount":
			totalCount = true
		case "edges":
			ok = true
		}
	}
	if !ok {
		return ctx, totalCount, false
	}
	return withoutFields(ctx, fc, fields, "totalCount", "pageInfo"), totalCount, true
}

// withoutFields returns ctx whose field context selects fields (fc's collected selection)
// except those named.
func withoutFields(ctx context.Context, fc *graphql.FieldContext, fields []graphql.CollectedField, names ...string) context.Context {
	kept := make(ast.SelectionSet, 0, len(fields))
	for _, f := range fields {
		if slices.Contains(names, f.Name) {
			continue
		}
		field := *f.Field
		field.SelectionSet = f.Selections // fragments' selections merged
		kept = append(kept, &field)
	}
	hidden := *fc
	hidden.Field.Selections = kept
	return graphql.WithFieldContext(ctx, &hidden)
}
