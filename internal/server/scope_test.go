package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/graph/generated"
	"github.com/cairn-cdp/cairn/internal/auth"
)

// rootFields lists every Query and Mutation field of the executable schema.
func rootFields(t *testing.T) (schema *ast.Schema, fields []*ast.FieldDefinition, objects []string) {
	t.Helper()
	schema = generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()
	for _, obj := range []*ast.Definition{schema.Query, schema.Mutation} {
		if obj == nil {
			continue
		}
		for _, f := range obj.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			fields = append(fields, f)
			objects = append(objects, obj.Name)
		}
	}
	require.NotEmpty(t, fields)
	return schema, fields, objects
}

// TestRootScopesMatchSchema checks graph.RootScopes against the executable schema in both
// directions: every Query and Mutation field has an entry, and every entry names a field that
// exists (a scope for a field that does not exist is a promise the API does not keep).
func TestRootScopesMatchSchema(t *testing.T) {
	t.Parallel()
	_, fields, objects := rootFields(t)
	inSchema := map[string]map[string]bool{}
	for i, f := range fields {
		if inSchema[objects[i]] == nil {
			inSchema[objects[i]] = map[string]bool{}
		}
		inSchema[objects[i]][f.Name] = true
	}

	t.Run("every root field has a scope", func(t *testing.T) {
		t.Parallel()
		for i, f := range fields {
			_, ok := graph.RootScopes[objects[i]][f.Name]
			require.True(t, ok, "%s.%s has no entry in graph.RootScopes", objects[i], f.Name)
		}
	})
	t.Run("every scope names a root field", func(t *testing.T) {
		t.Parallel()
		for object, scopes := range graph.RootScopes {
			for field := range scopes {
				require.True(t, inSchema[object][field], "graph.RootScopes has %s.%s, which the schema does not define", object, field)
			}
		}
	})
}

// TestEveryRootFieldDeniedWithoutScope sends, for every root field in the schema, a valid
// operation with a key holding every scope except the one the field needs (and admin), and
// expects FORBIDDEN and no data; with the needed scope the error is never FORBIDDEN.
func TestEveryRootFieldDeniedWithoutScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schema, fields, objects := rootFields(t)

	keysWithout := map[auth.Scope]string{}
	keysWith := map[auth.Scope]string{}
	for _, s := range []auth.Scope{auth.ScopeRead, auth.ScopeWrite, auth.ScopePrivacy, auth.ScopeAdmin} {
		var others []auth.Scope
		for _, o := range []auth.Scope{auth.ScopeIngest, auth.ScopeRead, auth.ScopeWrite, auth.ScopePrivacy} {
			if o != s {
				others = append(others, o)
			}
		}
		keysWithout[s] = b.key(t, others...)
		keysWith[s] = b.key(t, s)
	}

	for i, f := range fields {
		object := objects[i]
		t.Run(object+"."+f.Name, func(t *testing.T) {
			need := graph.RootScopes[object][f.Name]
			query := operationFor(schema, object, f)

			_, resp := b.do(t, keysWithout[need], query, nil)
			require.Equal(t, []string{"FORBIDDEN"}, resp.codes(), "query: %s", query)
			require.Nil(t, resp.Data, "query: %s", query)

			_, resp = b.do(t, keysWith[need], query, nil)
			require.NotContains(t, resp.codes(), "FORBIDDEN", "query: %s", query)
		})
	}
}

// operationFor builds a valid operation selecting field f with made-up values for its required
// arguments.
func operationFor(schema *ast.Schema, object string, f *ast.FieldDefinition) string {
	var args []string
	for _, a := range f.Arguments {
		if !a.Type.NonNull {
			continue
		}
		args = append(args, a.Name+": "+valueFor(schema, a.Type, 0))
	}
	sel := f.Name
	if len(args) > 0 {
		sel += "(" + strings.Join(args, ", ") + ")"
	}
	if def := schema.Types[f.Type.Name()]; def != nil && slices.Contains([]ast.DefinitionKind{ast.Object, ast.Interface, ast.Union}, def.Kind) {
		sel += " { __typename }"
	}
	if object == "Mutation" {
		return "mutation { " + sel + " }"
	}
	return "{ " + sel + " }"
}

func valueFor(schema *ast.Schema, typ *ast.Type, depth int) string {
	if typ.Elem != nil {
		return "[" + valueFor(schema, typ.Elem, depth) + "]"
	}
	def := schema.Types[typ.NamedType]
	switch {
	case def == nil:
		return "null"
	case def.Kind == ast.Enum:
		return def.EnumValues[0].Name
	case def.Kind == ast.InputObject:
		var fields []string
		for _, f := range def.Fields {
			if f.Type.NonNull && depth < 5 {
				fields = append(fields, f.Name+": "+valueFor(schema, f.Type, depth+1))
			}
		}
		return "{" + strings.Join(fields, ", ") + "}"
	}
	switch typ.NamedType {
	case "ID":
		return `"0194a0a0-0000-7000-8000-000000000000"`
	case "Int":
		return "1"
	case "Float":
		return "1.5"
	case "Boolean":
		return "true"
	case "Time":
		return `"2026-01-01T00:00:00Z"`
	case "JSON", "Map":
		return "{}"
	}
	return fmt.Sprintf("%q", "x")
}
