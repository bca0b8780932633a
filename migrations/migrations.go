// Package migrations embeds Cairn's versioned SQL migrations. Files are generated from the ent
// schema by `make migration NAME=...` (see diff.go) in Atlas's format: one `<version>_<name>.sql`
// per change and an `atlas.sum` integrity file. Hand-written files are allowed; re-run the diff
// tool afterwards to refresh atlas.sum.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql atlas.sum
var FS embed.FS
