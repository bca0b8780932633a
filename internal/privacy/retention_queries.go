package privacy

import (
	_ "embed"

	"github.com/cairn-cdp/cairn/internal/namedsql"
)

//go:embed retention_queries.sql
var retentionQueriesSQL string

// retentionQueries are the named blocks of retention_queries.sql, parsed at start-up: a missing
// or empty block panics at init, not in the middle of a sweep.
var retentionQueries = namedsql.MustParse("privacy: retention_queries.sql", retentionQueriesSQL,
	"retention-lock", "retention-unlock", "retention-policy-lock", "retention-delete-batch",
	"retention-anonymize-batch", "retention-delete-empty-customers", "retention-progress")
