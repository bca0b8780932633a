package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/server"
)

// gqlServer serves the whole HTTP API (GraphQL and tracking) as `cairn serve` does.
func gqlServer(t *testing.T, b *testBundle) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(server.New(server.Config{
		DB: b.db, Keys: b.keys,
		Resolver: &graph.Resolver{DB: b.db, Client: b.client, Keys: b.keys, Normalize: b.res.Normalize, Identity: b.res},
		Tracking: NewHandler(b.pipe, b.keys, nil),
	}))
	t.Cleanup(srv.Close)
	key, err := b.keys.Create(context.Background(), "app", []auth.Scope{auth.ScopeRead, auth.ScopeWrite})
	require.NoError(t, err)
	return srv, key.Secret
}

func graphQL(t *testing.T, url, key, query string, vars map[string]any, out any) []map[string]any {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var envelope struct {
		Data   json.RawMessage  `json:"data"`
		Errors []map[string]any `json:"errors"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&envelope))
	if out != nil && len(envelope.Data) > 0 && string(envelope.Data) != "null" {
		require.NoError(t, json.Unmarshal(envelope.Data, out))
	}
	return envelope.Errors
}

const profileQuery = `query($type: String!, $value: String!) {
  customerByIdentity(type: $type, value: $value) {
    id
    interactions(first: 50) { totalCount edges { node { event } } }
  }
}`

// TestEventVisibleOnProfileWhenAcked: every 200 means the event is already on the profile in
// GraphQL — checked right after each ack, for several requests in a row.
func TestEventVisibleOnProfileWhenAcked(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, key := gqlServer(t, b)
	for i := 1; i <= 5; i++ {
		body, _ := json.Marshal(map[string]any{"anonymousId": "visible", "event": fmt.Sprint("Step ", i)})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/track", bytes.NewReader(body))
		req.SetBasicAuth(b.key, "")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)

		var data struct {
			CustomerByIdentity struct {
				Interactions struct {
					TotalCount int
					Edges      []struct{ Node struct{ Event string } }
				}
			}
		}
		errs := graphQL(t, srv.URL, key, profileQuery, map[string]any{"type": "anonymous_id", "value": " visible "}, &data)
		require.Empty(t, errs)
		require.Equal(t, i, data.CustomerByIdentity.Interactions.TotalCount)
	}
}

func TestMergeCustomersMutation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, key := gqlServer(t, b)
	b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "m-1", Traits: obj(map[string]any{"email": "One@Example.org"})})
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", AnonymousID: "m-anon"})
	b.submit(t, wire.Message{Type: wire.TypeIdentify, UserID: "m-2"})
	one, anon, two := b.customerOf(t, "user_id", "m-1"), b.customerOf(t, "anonymous_id", "m-anon"), b.customerOf(t, "user_id", "m-2")

	const merge = `mutation($from: ID!, $into: ID!) { mergeCustomers(from: $from, into: $into) { id } }`
	var data struct{ MergeCustomers struct{ ID string } }
	errs := graphQL(t, srv.URL, key, merge, map[string]any{"from": anon.String(), "into": one.String()}, &data)
	require.Empty(t, errs)
	require.Equal(t, one.String(), data.MergeCustomers.ID)
	require.Equal(t, one, b.customerOf(t, "anonymous_id", "m-anon"))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE id = $1 AND merged_into_id = $2`, anon, one))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_events WHERE action = 'customer.merge' AND target_id = $1 AND actor LIKE 'key:%'`, one.String()))

	// The email identifier resolves through GraphQL with the same normalisation as ingest.
	var found struct{ CustomerByIdentity struct{ ID string } }
	require.Empty(t, graphQL(t, srv.URL, key, `query { customerByIdentity(type: "email", value: " ONE@example.org") { id } }`, nil, &found))
	require.Equal(t, one.String(), found.CustomerByIdentity.ID)

	// Two user_ids: refused with CONFLICT; a merged-away id merges as its survivor.
	errs = graphQL(t, srv.URL, key, merge, map[string]any{"from": two.String(), "into": anon.String()}, nil)
	require.Len(t, errs, 1)
	require.Equal(t, "CONFLICT", errs[0]["extensions"].(map[string]any)["code"])
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM customers WHERE id = $1 AND merged_into_id IS NOT NULL`, two))

	errs = graphQL(t, srv.URL, key, merge, map[string]any{"from": one.String(), "into": one.String()}, nil)
	require.Equal(t, "BAD_USER_INPUT", errs[0]["extensions"].(map[string]any)["code"])
	errs = graphQL(t, srv.URL, key, merge, map[string]any{"from": "01900000-0000-7000-8000-000000000000", "into": one.String()}, nil)
	require.Equal(t, "NOT_FOUND", errs[0]["extensions"].(map[string]any)["code"])
}
