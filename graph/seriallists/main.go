// Command seriallists rewrites gqlgen's output (graph/generated/generated.go) so that a list's
// elements are marshalled one after another in the request's goroutine instead of one goroutine
// per element (graphql.MarshalSliceConcurrently). `go generate` runs it right after gqlgen.
//
// Why: a page of 50 customers started 50 goroutines, and each grew its stack through gqlgen's
// deep marshalling frames (runtime.newstack/copystack were ~16% of the server's CPU on
// `go test ./internal/server -bench Reads`). Marshalling in place loses nothing here: a field
// that does I/O is still resolved concurrently within its object (gqlgen's out.Concurrently),
// and no list element does I/O of its own: edges are eager-loaded by field collection and the
// rest is batched once per list (graph.Batches), which the N+1 tests hold.
//
// It fails when it finds nothing to rewrite in a file it has not rewritten, so a gqlgen upgrade that changes the generated
// call is noticed instead of silently undoing the change.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"regexp"
)

const target = "graph/generated/generated.go"

// call matches gqlgen's call: MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, f).
var call = regexp.MustCompile(`graphql\.MarshalSliceConcurrently\(ctx, len\(v\), \d+, (true|false), `)

const helper = `
// marshalSerially marshals a list's elements in order in the calling goroutine; see
// graph/seriallists for why it replaces graphql.MarshalSliceConcurrently. A panicking element
// is null with an error, as with MarshalSliceConcurrently, unless omitPanicHandler.
func marshalSerially(ctx context.Context, length int, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return ret
}
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seriallists:", err)
		os.Exit(1)
	}
}

func run() error {
	src, err := os.ReadFile(target)
	if err != nil {
		return err
	}
	if !call.Match(src) {
		if bytes.Contains(src, []byte("func marshalSerially(")) {
			return nil // rewritten already
		}
		return fmt.Errorf("no graphql.MarshalSliceConcurrently call in %s: gqlgen's output changed; update %s", target, "graph/seriallists")
	}
	out := call.ReplaceAll(src, []byte("marshalSerially(ctx, len(v), $1, "))
	out = append(bytes.TrimRight(out, "\n"), '\n')
	out = append(out, helper...)
	if out, err = format.Source(out); err != nil {
		return fmt.Errorf("formatting %s: %w", target, err)
	}
	return os.WriteFile(target, out, 0o644)
}
