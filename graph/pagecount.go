package graph

import (
	"context"

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
	kept := make(ast.SelectionSet, 0, len(fields))
	for _, f := range fields {
		if f.Name == "pageInfo" {
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
