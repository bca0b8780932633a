package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/cairn-cdp/cairn/internal/migrate"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// readyz reports ready only when the database answers and every migration is applied.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.cfg.DB.PingContext(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: database unreachable", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "database unreachable"})
		return
	}
	pending, err := migrate.Pending(ctx, s.cfg.DB)
	if err != nil {
		s.log.WarnContext(ctx, "readiness: checking migrations failed", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "cannot check migrations"})
		return
	}
	if len(pending) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "migrations pending", "pending": pending})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
