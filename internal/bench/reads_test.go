package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/schematype"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/bench"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func TestRunClosedLoopCountsRequests(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	res := bench.RunClosedLoop(context.Background(), "count", 4, 200*time.Millisecond, 1, func(context.Context, *rand.Rand) error {
		if sent.Add(1)%3 == 0 {
			return errors.New("every third fails")
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	require.Equal(t, sent.Load(), res.Requests)
	require.Equal(t, sent.Load()/3, res.Errors)
	require.Equal(t, "every third fails", res.FirstError)
	require.Equal(t, int(res.Requests), res.Latency.N)
	require.Positive(t, res.PerSec())

	var merged bench.ClosedLoop
	merged.Merge(res)
	merged.Merge(res)
	require.Equal(t, 2*res.Requests, merged.Requests)
	require.Equal(t, 2*res.Latency.N, merged.Latency.N)
}

// profileAnswer is the data of ProfileQuery, with times as instants (GraphQL and PostgreSQL
// write the same instant differently).
type profileAnswer struct {
	Data struct {
		Customer *struct {
			ID, Email    string
			Phone        *string
			Traits       map[string]any
			FirstSeenAt  time.Time
			LastSeenAt   time.Time
			Identities   []struct{ Type, Value string }
			Interactions struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID, Kind   string
						Event      *string
						OccurredAt time.Time
						Properties map[string]any
					}
				}
			}
		}
	}
}

func TestBaselineAnswersLikeGraphQL(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	client := txn.NewClient(db)
	log := slog.New(slog.DiscardHandler)
	keys := auth.NewKeys(db, log)
	created, err := keys.Create(ctx, "bench", []auth.Scope{auth.ScopeRead})
	require.NoError(t, err)
	srv := server.New(server.Config{DB: db, Keys: keys, Log: log,
		Resolver: &graph.Resolver{DB: db, Client: client, Keys: keys, Log: log}})

	mk := func(email string, interactions int) *ent.Customer {
		c, err := client.Customer.Create().SetEmail(email).
			SetTraits(schematype.MustObject(map[string]any{"plan": "pro", "age": 41.5, "tags": []any{"a", "b"}})).Save(ctx)
		require.NoError(t, err)
		for _, typ := range []string{"email", "anonymous_id", "user_id"} {
			_, err = client.Identity.Create().SetCustomerID(c.ID).SetType(typ).SetValue(typ + "-" + email).Save(ctx)
			require.NoError(t, err)
		}
		base := time.Date(2026, 11, 1, 12, 0, 0, 123456000, time.UTC)
		for i := range interactions {
			at := base.Add(time.Duration(i/2) * time.Hour) // pairs share a time: ties order by id
			_, err = client.Interaction.Create().SetCustomerID(c.ID).SetKind(interaction.KindTrack).
				SetEvent(fmt.Sprintf("Event %d", i)).SetMessageID(fmt.Sprintf("%s-%d", email, i)).
				SetProperties(map[string]any{"i": float64(i), "nested": map[string]any{"ok": true}}).
				SetOccurredAt(at).Save(ctx)
			require.NoError(t, err)
		}
		return c
	}
	tests := []struct {
		name         string
		interactions int
	}{
		{name: "more interactions than the page", interactions: 25},
		{name: "fewer interactions than the page", interactions: 3},
		{name: "no interactions", interactions: 0},
	}
	for i, tc := range tests {
		c := mk(fmt.Sprintf("p%d@example.com", i), tc.interactions)
		t.Run(tc.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"query": bench.ProfileQuery, "variables": map[string]any{"id": c.ID}})
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+created.Secret)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var viaGraphQL profileAnswer
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &viaGraphQL), rec.Body.String())

			rec = httptest.NewRecorder()
			bench.NewBaseline(db).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/profile?id="+c.ID.String(), nil))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var viaBaseline profileAnswer
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &viaBaseline), rec.Body.String())

			for _, a := range []*profileAnswer{&viaGraphQL, &viaBaseline} {
				require.NotNil(t, a.Data.Customer)
				cu := a.Data.Customer
				cu.FirstSeenAt, cu.LastSeenAt = cu.FirstSeenAt.UTC(), cu.LastSeenAt.UTC()
				for i := range cu.Interactions.Edges {
					n := &cu.Interactions.Edges[i].Node
					n.OccurredAt = n.OccurredAt.UTC()
				}
				slices.SortFunc(a.Data.Customer.Identities, func(x, y struct{ Type, Value string }) int {
					return strings.Compare(x.Type, y.Type)
				})
			}
			require.Equal(t, viaBaseline, viaGraphQL)
			require.Equal(t, tc.interactions, viaGraphQL.Data.Customer.Interactions.TotalCount)
			require.Len(t, viaGraphQL.Data.Customer.Interactions.Edges, min(tc.interactions, 20))
			require.Len(t, viaGraphQL.Data.Customer.Identities, 3)
		})
	}
}

func TestRunReadsStopsOnRateLimit(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	_, err := txn.NewClient(db).Customer.Create().SetEmail("r@example.com").Save(context.Background())
	require.NoError(t, err)
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"errors":[{"message":"rate limited"}]}`, http.StatusTooManyRequests)
	}))
	defer limited.Close()

	_, err = bench.RunReads(context.Background(), bench.ReadsOptions{URL: limited.URL, Key: "k", DB: db,
		Clients: 2, Phase: 200 * time.Millisecond, Rounds: 1, Cases: []string{"profile"}})
	require.ErrorContains(t, err, "CAIRN_GRAPHQL_RATE=off")
}
