package ingest

import _ "embed"

// queriesSQL holds the named queries (internal/namedsql) this package prepares at start-up.
//
//go:embed queries.sql
var queriesSQL string
