package segment

import (
	_ "embed"
	"strings"

	"github.com/cairn-cdp/cairn/internal/namedsql"
)

//go:embed queries.sql
var queriesSQL string

// queries are the named blocks of queries.sql, parsed at start-up: a missing or empty block
// panics at init, not in the middle of a job.
var queries = namedsql.MustParse("segment: queries.sql", queriesSQL, "want-full", "analyze-want", "diff-full", "diff-ids", "take-dirty", "history", "due",
	"lock-segment", "lock-segments", "mark-computing", "finish-computation", "record-failure",
	"add-member-count", "campaigns-of", "campaigns-leaving", "dependents-of", "set-nestloop", "settings", "customers-estimate")

// params renders a named query whose placeholders are all parameters, taken from p by name.
func params(name string, p map[string]any) Query {
	return bind(name, func(f *frag, ph string) { f.arg(p[ph]) })
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
