package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// CodeTimeout is the code of an error from a request whose database time ran out.
const CodeTimeout = "TIMEOUT"

// TimeoutError is the cause of a request context that WithTimeout cancelled.
type TimeoutError struct{ Limit time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the request ran out of time (limit %s) and its database work was cancelled: ask for smaller pages, fewer counts or a narrower filter", e.Limit)
}

// WithTimeout bounds the work of one GraphQL request: when limit passes, ctx is cancelled, which
// makes lib/pq cancel the statements running for it on the server (and roll back its
// transactions), and the errors of the fields still resolving become TIMEOUT. limit <= 0 means
// no bound.
func WithTimeout(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if limit <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, limit, &TimeoutError{Limit: limit})
}

// timedOut returns the TimeoutError when err comes from ctx's deadline set by WithTimeout: the
// context error itself, or PostgreSQL's "canceling statement" (57014) that lib/pq's cancel
// request causes.
func timedOut(ctx context.Context, err error) (*TimeoutError, bool) {
	var te *TimeoutError
	if !errors.As(context.Cause(ctx), &te) {
		return nil, false
	}
	var pqErr *pq.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &pqErr) && pqErr.Code == "57014") || errors.Is(err, te) {
		return te, true
	}
	return nil, false
}
