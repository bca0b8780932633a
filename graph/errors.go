package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/auth"
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
	notFoundErrors = []error{errNotFound, auth.ErrNotFound, profile.ErrNotFound, identity.ErrNotFound, segment.ErrNotFound, privacy.ErrNotFound}
	badInputErrors = []error{auth.ErrInvalidInput, identity.ErrInvalidInput, segment.ErrInvalidRule, segment.ErrInvalidInput, rfm.ErrInvalidInput, privacy.ErrInvalidInput}
	conflictErrors = []error{identity.ErrConflict, segment.ErrInUse}
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
		code := Code(err)
		if code == CodeInternal {
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

// Recover turns a resolver panic into an INTERNAL error (logged), never a crashed server.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(p))
		return &codedError{code: CodeInternal, msg: "internal error"}
	}
}
