// Package pgarray builds PostgreSQL array parameters for set-based statements that take their
// rows as parallel arrays (`unnest($1::uuid[], …)`, `id = ANY($1::uuid[])`).
package pgarray

import (
	"github.com/google/uuid"
	"github.com/lib/pq"
)

// UUIDs returns ids as a text array parameter, in order; cast it in SQL with `::uuid[]`. A nil or
// empty slice gives an empty array, never NULL.
func UUIDs(ids []uuid.UUID) pq.StringArray {
	out := make(pq.StringArray, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
