// Package scalar holds GraphQL scalar marshalers that gqlgen binds to Go types.
package scalar

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// MarshalUUID writes a UUID as a GraphQL ID string.
func MarshalUUID(u uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(u.String()))
	})
}

// ErrInvalidID is wrapped by every error of UnmarshalUUID: the client sent an ID that is not a
// UUID, which is bad input (graph's error presenter names the argument).
var ErrInvalidID = errors.New("invalid ID")

// UnmarshalUUID reads a GraphQL ID string as a UUID.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, fmt.Errorf("%w: expected a string, got %T", ErrInvalidID, v)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w %q: not a UUID", ErrInvalidID, s)
	}
	return u, nil
}
