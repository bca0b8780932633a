package segment

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidRule is wrapped by every rule validation error (see RuleError).
	ErrInvalidRule = errors.New("invalid segment rule")
	// ErrInvalidInput is a segment input error other than the rule (name, refresh interval).
	ErrInvalidInput = errors.New("invalid segment input")
	// ErrNotFound is returned for a segment id that does not exist.
	ErrNotFound = errors.New("segment not found")
	// ErrNoScheduler is returned by RequestCompute on a Service without a Scheduler.
	ErrNoScheduler = errors.New("segment computations cannot be enqueued here")
	// ErrInUse refuses deleting a segment other segments or campaigns still use.
	ErrInUse = errors.New("segment is in use")
)

// RuleError is a validation error at one node of a rule tree. Path locates the node in the
// input, e.g. "rule.and[1].event.count.op".
type RuleError struct {
	Path string
	Msg  string
}

func (e *RuleError) Error() string { return fmt.Sprintf("%s at %s: %s", ErrInvalidRule, e.Path, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalidRule) hold.
func (e *RuleError) Unwrap() error { return ErrInvalidRule }
