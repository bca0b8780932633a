package rfm

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed queries.sql
var queriesSQL string

// queries are the named blocks of queries.sql, parsed at start-up: a missing or empty block
// panics at init, not in the middle of a job.
var queries = mustParseQueries(queriesSQL,
	"lock", "drop-scores", "create-scores", "fill-scores",
	"analyze-scores", "batch-bounds", "apply-batch", "summary")

// parseQueries splits a file of `-- name: x` blocks into named statements. Comment lines and
// blank lines are kept out of the statement text; a trailing semicolon is dropped.
func parseQueries(src string) (map[string]string, error) {
	out := map[string]string{}
	var name string
	var body strings.Builder
	flush := func() error {
		if name == "" {
			return nil
		}
		q := strings.TrimSuffix(strings.TrimSpace(body.String()), ";")
		if q == "" {
			return fmt.Errorf("query %q is empty", name)
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("query %q is defined twice", name)
		}
		out[name] = q
		body.Reset()
		return nil
	}
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(trimmed, "-- name:"); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			name = strings.TrimSpace(n)
			continue
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "--") || name == "" {
			continue
		}
		body.WriteString(line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func mustParseQueries(src string, names ...string) map[string]string {
	qs, err := parseQueries(src)
	if err != nil {
		panic(fmt.Sprintf("rfm: error parsing queries.sql: %v", err))
	}
	for _, n := range names {
		if qs[n] == "" {
			panic(fmt.Sprintf("rfm: queries.sql has no query %q", n))
		}
	}
	return qs
}
