package server

import (
	"net/http"

	"github.com/cairn-cdp/cairn/graph"
)

// withGraphQLTimeout bounds each GraphQL request's database time by GraphQLTimeout: its context
// is cancelled when the limit passes, which cancels the statements still running for it (see
// graph.WithTimeout), and the fields not answered by then are TIMEOUT errors.
func (s *Server) withGraphQLTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := graph.WithTimeout(r.Context(), s.cfg.GraphQLTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
