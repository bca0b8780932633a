package rfm

import (
	_ "embed"

	"github.com/cairn-cdp/cairn/internal/namedsql"
)

//go:embed queries.sql
var queriesSQL string

// queries are the named blocks of queries.sql, parsed at start-up: a missing or empty block
// panics at init, not in the middle of a job.
var queries = namedsql.MustParse("rfm: queries.sql", queriesSQL,
	"lock", "drop-scores", "create-scores", "fill-scores",
	"analyze-scores", "batch-bounds", "apply-batch", "summary")
