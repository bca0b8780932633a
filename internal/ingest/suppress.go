package ingest

import "github.com/cairn-cdp/cairn/internal/identity"

// Suppressor tells whether a message carries an identifier of an erased person (privacy's
// suppression list). It is asked once per message inside each group transaction, so it must be
// an in-memory check: privacy.Suppressions answers from a mirror of the list with one atomic
// load when the list is empty and one keyed hash per identifier otherwise.
type Suppressor interface {
	// Suppressed reports whether any of ids, or previous (an alias's previousId, "" for none),
	// is suppressed.
	Suppressed(ids []identity.Identifier, previous string) bool
}
