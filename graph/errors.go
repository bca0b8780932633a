package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/lib/pq"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph/scalar"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/profile"
	"github.com/cairn-cdp/cairn/internal/rfm"
	"github.com/cairn-cdp/cairn/internal/segment"
)

// Error codes carried in extensions.code.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeInternal        = "INTERNAL"
)

var errNotFound = errors.New("not found")

// codedError is an error that already knows its GraphQL code.
type codedError struct {
	code string
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func forbidden(s auth.Scope) error {
	return &codedError{code: CodeForbidden, msg: fmt.Sprintf("this API key lacks the %q scope", s)}
}

func badInput(format string, args ...any) error {
	return &codedError{code: CodeBadUserInput, msg: fmt.Sprintf(format, args...)}
}

// notFoundErrors and badInputErrors list the domain sentinels; add a domain's errors here.
var (
	notFoundErrors = []error{errNotFound, auth.ErrNotFound, profile.ErrNotFound, identity.ErrNotFound, segment.ErrNotFound, campaign.ErrNotFound, privacy.ErrPolicyNotFound, privacy.ErrNotFound}
	badInputErrors = []error{scalar.ErrInvalidID, auth.ErrInvalidInput, identity.ErrInvalidInput, segment.ErrInvalidRule, segment.ErrInvalidInput, rfm.ErrInvalidInput, campaign.ErrInvalidInput, privacy.ErrInvalidPolicy, privacy.ErrInvalidInput}
	conflictErrors = []error{identity.ErrConflict, segment.ErrInUse, campaign.ErrConflict, privacy.ErrSweepRunning}
)

// Code returns the GraphQL error code for err.
func Code(err error) string {
	var ce *codedError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case ent.IsNotFound(err) || isAny(err, notFoundErrors):
		return CodeNotFound
	case ent.IsValidationError(err) || isAny(err, badInputErrors):
		return CodeBadUserInput
	case ent.IsConstraintError(err) || isAny(err, conflictErrors):
		return CodeConflict
	}
	return CodeInternal
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// ErrorPresenter maps every resolver error to a GraphQL error with extensions.code. Internal
// errors are logged and replaced by a generic message, so SQL and stack details never leak.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if gerr.Extensions != nil {
			if _, ok := gerr.Extensions["code"]; ok {
				return gerr // parser/validation errors gqlgen already coded
			}
		}
		var inner *gqlerror.Error
		if errors.As(err, &inner) && inner.Err == nil && inner.Extensions == nil && Code(err) == CodeInternal {
			// gqlgen's own input errors (bad argument types, unknown enum values).
			gerr.Extensions = map[string]any{"code": CodeBadUserInput}
			return gerr
		}
		if te, ok := timedOut(ctx, err); ok {
			gerr.Message = te.Error()
			gerr.Extensions = map[string]any{"code": CodeTimeout}
			return gerr
		}
		code := Code(err)
		switch {
		case errors.Is(err, scalar.ErrInvalidID):
			gerr.Message = argumentMessage(ctx, gerr)
		case code == CodeNotFound:
			var nf *ent.NotFoundError
			if errors.As(err, &nf) { // "ent: segment not found" speaks of ent, not the API
				gerr.Message = strings.TrimPrefix(nf.Error(), "ent: ")
			}
		case code == CodeConflict:
			var ce *ent.ConstraintError
			if errors.As(err, &ce) { // ent's message carries the SQL error
				gerr.Message = constraintMessage(err)
			}
		case code == CodeInternal && errors.Is(err, context.Canceled) && ctx.Err() != nil:
			// The client went away (the request's context ended): no one reads this answer, and
			// nothing failed on this side. Logged as an error it buried real failures whenever
			// clients timed out or a load test stopped.
			log.DebugContext(ctx, "graphql resolver stopped: the request ended", "path", gerr.Path.String())
			gerr.Message = "request cancelled"
		case code == CodeInternal:
			log.ErrorContext(ctx, "graphql resolver failed", "path", gerr.Path.String(), "error", err)
			gerr.Message = "internal error"
		}
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		gerr.Extensions["code"] = code
		return gerr
	}
}

// constraintMessage says which constraint a write broke, without ent's or PostgreSQL's wording.
func constraintMessage(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "23505":
			return fmt.Sprintf("a record with this value already exists (unique constraint %s)", pqErr.Constraint)
		case "23503":
			return fmt.Sprintf("the record refers to one that does not exist, or is referred to by another (constraint %s)", pqErr.Constraint)
		}
	}
	return "the change conflicts with existing data"
}

// argumentMessage prefixes an argument's error with the argument's path and its field, e.g.
// `argument "rule.inSegment" of segmentPreview: invalid ID "x": not a UUID`. gqlgen reports an
// argument's error on the field's path followed by the argument's.
func argumentMessage(ctx context.Context, gerr *gqlerror.Error) string {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return gerr.Message
	}
	field := fc.Path()
	if len(gerr.Path) <= len(field) {
		return gerr.Message
	}
	arg := gerr.Path[len(field):]
	if _, ok := arg[0].(ast.PathName); !ok {
		return gerr.Message
	}
	return fmt.Sprintf("argument %q of %s: %s", arg.String(), fc.Field.Name, gerr.Message)
}

// Recover turns a resolver panic into an INTERNAL error (logged), never a crashed server.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(p))
		return &codedError{code: CodeInternal, msg: "internal error"}
	}
}
