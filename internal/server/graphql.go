package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/graph/generated"
	"github.com/cairn-cdp/cairn/internal/auth"
)

func (s *Server) graphQL() http.Handler {
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: s.cfg.Resolver}))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postJSON{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(graph.PageDefaults{Size: s.cfg.Limits.DefaultPageSz})
	srv.AroundOperations(s.cfg.Limits.Check)
	srv.AroundOperations(graph.ScopeCheck)
	srv.AroundOperations(s.metrics.countOperation)
	srv.AroundOperations(graph.Batches)
	srv.AroundRootFields(graph.RootFieldScopeCheck)
	srv.SetErrorPresenter(graph.ErrorPresenter(s.log))
	srv.SetRecoverFunc(graph.Recover(s.log))
	return srv
}

// requireKey authenticates a Bearer API key: none or a bad one is HTTP 401; an ingest-only key
// may not use GraphQL (403). The principal rides the request context to the scope checks.
func (s *Server) requireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
			writeGraphQLError(w, http.StatusUnauthorized, graph.CodeUnauthenticated, "missing API key: send Authorization: Bearer <key>")
			return
		}
		p, err := s.cfg.Keys.Authenticate(r.Context(), secret)
		if errors.Is(err, auth.ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn", error="invalid_token"`)
			writeGraphQLError(w, http.StatusUnauthorized, graph.CodeUnauthenticated, "invalid or revoked API key")
			return
		}
		if err != nil {
			s.log.ErrorContext(r.Context(), "authenticating API key failed", "error", err)
			writeGraphQLError(w, http.StatusInternalServerError, graph.CodeInternal, "internal error")
			return
		}
		if !p.Has(auth.ScopeRead) && !p.Has(auth.ScopeWrite) && !p.Has(auth.ScopePrivacy) {
			writeGraphQLError(w, http.StatusForbidden, graph.CodeForbidden, "this API key may only send events to the tracking API")
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}
