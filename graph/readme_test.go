package graph_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/graph/generated"
)

// TestReadmeOperationsValidate checks that every GraphQL operation in README.md (```graphql
// blocks and the "query" of curl examples) is valid against the executable schema, so the
// README's examples keep up with the API.
func TestReadmeOperationsValidate(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()

	var ops []string
	for _, m := range regexp.MustCompile("(?s)```graphql\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		ops = append(ops, m[1])
	}
	for _, m := range regexp.MustCompile(`-d '(\{"query":.*?\})'`).FindAllStringSubmatch(string(readme), -1) {
		var body struct{ Query string }
		require.NoError(t, json.Unmarshal([]byte(m[1]), &body), m[1])
		ops = append(ops, body.Query)
	}
	require.NotEmpty(t, ops, "README.md holds GraphQL examples")

	for _, op := range ops {
		name := strings.Join(strings.Fields(op), " ")
		t.Run(name[:min(60, len(name))], func(t *testing.T) {
			t.Parallel()
			_, errs := gqlparser.LoadQuery(schema, op)
			require.Empty(t, errs, "README operation:\n%s", op)
		})
	}
}
