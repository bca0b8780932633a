package privacy

import "errors"

// Retention errors; graph maps them to GraphQL codes.
var (
	// ErrInvalidPolicy means a retention policy input was refused (BAD_USER_INPUT).
	ErrInvalidPolicy = errors.New("invalid retention policy")
	// ErrPolicyNotFound means no retention policy has that id (NOT_FOUND).
	ErrPolicyNotFound = errors.New("retention policy not found")
	// ErrSweepRunning means another sweep holds the retention lock; this one did nothing.
	ErrSweepRunning = errors.New("a retention sweep is already running")
)
