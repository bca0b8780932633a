package campaign

import "errors"

var (
	// ErrInvalidInput is a bad destination, campaign or schedule input; the message names the
	// field.
	ErrInvalidInput = errors.New("invalid campaign input")
	// ErrNotFound is a destination or campaign id that does not exist.
	ErrNotFound = errors.New("campaign or destination not found")
	// ErrConflict refuses an action the object's state does not allow (deleting a destination
	// campaigns use, resuming a draft, a second concurrent run).
	ErrConflict = errors.New("campaign state conflict")
)
