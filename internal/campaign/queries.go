package campaign

import (
	_ "embed"
	"strings"

	"github.com/cairn-cdp/cairn/internal/namedsql"
)

//go:embed queries.sql
var queriesSQL string

// queries are the named blocks of queries.sql with the audience predicates spliced in; a
// missing block panics at init.
var queries = func() map[string]string {
	qs := namedsql.MustParse("campaign: queries.sql", queriesSQL,
		"has-email", "may-email", "upsert-diff", "remove-diff",
		"confirm-upserts", "fail-contacts", "confirm-removals", "add-counts", "running-sync",
		"tracking-person", "count-untracked", "stats")
	r := strings.NewReplacer("{{has-email}}", "("+qs["has-email"]+")", "{{may-email}}", "("+qs["may-email"]+")")
	for name, q := range qs {
		qs[name] = r.Replace(q)
	}
	return qs
}()
