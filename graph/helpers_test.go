package graph_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/jobs"
)

// newServer serves GraphQL over db through client (an ent client on db, possibly instrumented),
// with a River client (not started) for the mutations that enqueue jobs.
func newServer(t *testing.T, db *sql.DB, client *ent.Client) (*server.Server, *auth.Keys) {
	t.Helper()
	return newServerLog(t, db, client, slog.New(slog.DiscardHandler))
}

// newServerLog is newServer logging to log.
func newServerLog(t *testing.T, db *sql.DB, client *ent.Client, log *slog.Logger) (*server.Server, *auth.Keys) {
	t.Helper()
	rc, _, err := jobs.NewClient(jobs.Deps{DB: db, Client: client, Log: log}, jobs.Options{})
	require.NoError(t, err)
	keys := auth.NewKeys(db, log)
	srv := server.New(server.Config{DB: db, Keys: keys, Log: log,
		Resolver: &graph.Resolver{DB: db, Client: client, Keys: keys, Log: log,
			Jobs: jobs.Reader{Client: rc}, SegmentJobs: jobs.SegmentScheduler{Client: rc}, RFMJobs: jobs.RFMScheduler{Client: rc},
			RetentionJobs: jobs.RetentionScheduler{Client: rc}}})
	return srv, keys
}

type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// postGraphQL posts a GraphQL request with the key secret, decodes data into out when there are
// no errors, and returns the errors.
func postGraphQL(t *testing.T, srv *server.Server, secret, query string, vars map[string]any, out any) []gqlError {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var resp struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
	if len(resp.Errors) == 0 && out != nil {
		require.NoError(t, json.Unmarshal(resp.Data, out))
	}
	return resp.Errors
}
