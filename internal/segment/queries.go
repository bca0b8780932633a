package segment

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed queries.sql
var queriesSQL string

// queries are the named blocks of queries.sql, parsed at start-up: a missing or empty block
// panics at init, not in the middle of a job.
var queries = mustParseQueries(queriesSQL, "want-full", "analyze-want", "diff-full", "diff-ids", "take-dirty", "history")

// parseQueries splits a file of `-- name: x` blocks into named statements, leaving comment and
// blank lines out and dropping a trailing semicolon.
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
	return out, flush()
}

func mustParseQueries(src string, names ...string) map[string]string {
	qs, err := parseQueries(src)
	if err != nil {
		panic(fmt.Sprintf("segment: queries.sql: %v", err))
	}
	for _, n := range names {
		if _, ok := qs[n]; !ok {
			panic(fmt.Sprintf("segment: queries.sql has no query %q", n))
		}
	}
	return qs
}

// bind renders a named query: each {{name}} becomes what fill writes for it (a parameter, a
// compiled rule, or nothing). Placeholders are numbered in order of appearance.
func bind(name string, fill func(f *frag, placeholder string)) Query {
	src := queries[name]
	var f frag
	for {
		i := strings.Index(src, "{{")
		if i < 0 {
			f.sql(src)
			break
		}
		j := strings.Index(src[i:], "}}")
		f.sql(src[:i])
		fill(&f, src[i+2:i+j])
		src = src[i+j+2:]
	}
	s, args := f.render(0)
	return Query{SQL: s, Args: args}
}
