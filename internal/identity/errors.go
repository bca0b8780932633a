package identity

import "errors"

var (
	// ErrJunk means an identifier value is on the blocklist (or empty) and identifies no one.
	ErrJunk = errors.New("identifier value is a blocklisted junk value")
	// ErrInvalid means an identifier value cannot be an identifier of its type (an email without
	// "@", a value longer than MaxValueLen, an unknown type).
	ErrInvalid = errors.New("invalid identifier")
	// ErrNotFound means a customer to merge does not exist.
	ErrNotFound = errors.New("customer not found")
	// ErrInvalidInput is a caller's mistake, e.g. merging a customer into itself.
	ErrInvalidInput = errors.New("invalid input")
	// ErrConflict means a merge was refused by an identity guard: both profiles hold a different
	// user_id, or the merged profile would exceed an identifier limit.
	ErrConflict = errors.New("identity conflict")
	// ErrConcurrentChange means another transaction changed the identities or customers this
	// transaction planned with (a new identifier claimed first, a customer merged or erased).
	// Nothing was written that survives: retry the whole transaction.
	ErrConcurrentChange = errors.New("identities changed concurrently; retry")
)
