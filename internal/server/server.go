// Package server is Cairn's HTTP layer: it routes /graphql (with graph's scope checks and query
// limits), the console (/) and /playground, the health and metrics endpoints and, when given one,
// the tracking API handler under /v1/; it authenticates GraphQL callers by API key and adds
// request ids, structured access logs and Prometheus metrics. Handlers stay thin: the logic is in
// internal/<domain>, reached through graph's resolvers or the tracking handler.
package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/console"
)

// Config wires the server's dependencies.
type Config struct {
	DB       *sql.DB
	Keys     *auth.Keys
	Resolver *graph.Resolver
	Log      *slog.Logger
	// Registry receives Cairn's metrics; nil makes a private one.
	Registry *prometheus.Registry
	// Tracking, when set, serves the Segment-compatible tracking API under /v1/ (it
	// authenticates its own callers).
	Tracking http.Handler
	// EmailTracking, when set, serves the email open pixel and click redirects under /t/
	// (tokens carry their own signature; no API key).
	EmailTracking http.Handler
	// People, when set, serves the endpoints the tracked people use themselves, authorised by
	// the signed token in their path: /preferences/ and /v1/preferences/ (the preference page
	// and its JSON) and /v1/exports/ (one-time export downloads).
	People http.Handler
	// Limits for GraphQL; zero value means graph.DefaultLimits.
	Limits graph.Limits
	// GraphQLRate limits GraphQL requests per API key (429 with Retry-After beyond it); zero
	// value means DefaultGraphQLRate, a Rate of rate.Inf no limit.
	GraphQLRate RateLimit
	// GraphQLTimeout bounds each GraphQL request's database time; zero means
	// DefaultGraphQLTimeout, negative no bound.
	GraphQLTimeout time.Duration
}

// DefaultGraphQLTimeout is the GraphQLTimeout of a zero Config.
const DefaultGraphQLTimeout = 15 * time.Second

// Server is Cairn's HTTP handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	handler http.Handler

	graphQLLimits *keyLimiters
}

// New builds the server's routes.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Limits == (graph.Limits{}) {
		cfg.Limits = graph.DefaultLimits
	}
	if cfg.GraphQLRate == (RateLimit{}) {
		cfg.GraphQLRate = DefaultGraphQLRate
	}
	if cfg.GraphQLTimeout == 0 {
		cfg.GraphQLTimeout = DefaultGraphQLTimeout
	}
	s := &Server{cfg: cfg, log: cfg.Log, graphQLLimits: newKeyLimiters(cfg.GraphQLRate)}
	s.metrics = newMetrics(cfg.Registry, cfg.DB)

	mux := http.NewServeMux()
	gql := s.requireKey(s.rateLimitGraphQL(s.withGraphQLTimeout(s.graphQL())))
	mux.Handle("POST /graphql", gql)
	mux.Handle("GET /graphql", gql)
	console.New().Register(mux) // the web console at / and GraphiQL at /playground
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.handler())
	if cfg.Tracking != nil {
		mux.Handle("/v1/", cfg.Tracking)
	}
	if cfg.People != nil {
		for _, p := range []string{"/preferences/", "/v1/preferences/", "/v1/exports/"} {
			mux.Handle(p, cfg.People)
		}
	}
	if cfg.EmailTracking != nil {
		mux.Handle("/t/", cfg.EmailTracking)
	}
	s.handler = s.withRequestID(s.withAccessLog(s.metrics.instrument(mux)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Run serves on addr until ctx is cancelled, then shuts down gracefully: in-flight requests get
// up to drain to finish. ready, if non-nil, receives the bound address once listening.
func (s *Server) Run(ctx context.Context, addr string, drain time.Duration, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("error serving HTTP: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("error shutting down HTTP server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
