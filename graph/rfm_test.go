package graph_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/rfm"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

type rfmBundle struct {
	ctx  context.Context
	db   *sql.DB
	keys *auth.Keys
	srv  *server.Server
}

func setupRFM(t *testing.T) *rfmBundle {
	t.Helper()
	db := testdb.New(t)
	srv, keys := newServer(t, db, txn.NewClient(db))
	return &rfmBundle{ctx: t.Context(), db: db, keys: keys, srv: srv}
}

func (b *rfmBundle) key(t *testing.T, scopes ...auth.Scope) string {
	t.Helper()
	c, err := b.keys.Create(b.ctx, "rfm test", scopes)
	require.NoError(t, err)
	return c.Secret
}

// query posts a GraphQL request and decodes data into out; it returns the errors' codes.
func (b *rfmBundle) query(t *testing.T, secret, query string, vars map[string]any, out any) []string {
	t.Helper()
	var codes []string
	for _, e := range postGraphQL(t, b.srv, secret, query, vars, out) {
		codes = append(codes, e.Extensions.Code)
	}
	return codes
}

// customer inserts a customer with orders of the given revenues placed daysAgo days before now.
func (b *rfmBundle) customer(t *testing.T, now time.Time, daysAgo int, revenues ...float64) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), '{}', '{}', now(), now())`, id)
	require.NoError(t, err)
	at := now.Add(-time.Duration(daysAgo)*24*time.Hour - time.Minute)
	for _, rev := range revenues {
		_, err = b.db.ExecContext(b.ctx, `INSERT INTO interactions (id, kind, event, occurred_at, received_at, message_id, revenue, customer_id)
			VALUES ($1, 'track', 'Order Completed', $2, $2, $3, $4, $5)`, uuid.Must(uuid.NewV7()), at, uuid.NewString(), rev, id)
		require.NoError(t, err)
	}
	return id
}

const customerRFMQuery = `query ($id: ID!) { customer(id: $id) { rfm {
	recency frequency monetary recencyScore frequencyScore monetaryScore score label computedAt } } }`

type rfmJSON struct {
	Recency, Frequency                          int
	Monetary                                    float64
	RecencyScore, FrequencyScore, MonetaryScore int
	Score, Label                                string
	ComputedAt                                  time.Time
}

func TestCustomerRFMAndSummary(t *testing.T) {
	t.Parallel()
	b := setupRFM(t)
	read := b.key(t, auth.ScopeRead)

	now := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	best := b.customer(t, now, 1, 20.5, 30)
	worst := b.customer(t, now, 200, 5)
	none := b.customer(t, now, 400, 99) // outside the window
	_, err := rfm.New(b.db).Compute(b.ctx, &rfm.ComputeOpts{Now: now})
	require.NoError(t, err)

	var got struct{ Customer struct{ Rfm *rfmJSON } }
	require.Empty(t, b.query(t, read, customerRFMQuery, map[string]any{"id": best}, &got))
	require.NotNil(t, got.Customer.Rfm)
	require.True(t, now.Equal(got.Customer.Rfm.ComputedAt))
	got.Customer.Rfm.ComputedAt = time.Time{}
	// n = 2: the better customer ranks 2 → 1 + 5*1/2 = 3 everywhere.
	require.Equal(t, rfmJSON{Recency: 1, Frequency: 2, Monetary: 50.5, RecencyScore: 3, FrequencyScore: 3,
		MonetaryScore: 3, Score: "333", Label: rfm.LabelNeedAttention}, *got.Customer.Rfm)

	require.Empty(t, b.query(t, read, customerRFMQuery, map[string]any{"id": worst}, &got))
	require.Equal(t, "111", got.Customer.Rfm.Score)
	require.Equal(t, rfm.LabelLost, got.Customer.Rfm.Label)

	require.Empty(t, b.query(t, read, customerRFMQuery, map[string]any{"id": none}, &got))
	require.Nil(t, got.Customer.Rfm)

	// Through the connection too (field collection must not leave the rfm_* columns out).
	var list struct {
		Customers struct {
			Edges []struct {
				Node struct {
					ID  uuid.UUID
					Rfm *struct{ Score string }
				}
			}
		}
	}
	require.Empty(t, b.query(t, read, `{ customers(first: 10) { edges { node { id rfm { score } } } } }`, nil, &list))
	scores := map[uuid.UUID]string{}
	for _, e := range list.Customers.Edges {
		if e.Node.Rfm != nil {
			scores[e.Node.ID] = e.Node.Rfm.Score
		}
	}
	require.Equal(t, map[uuid.UUID]string{best: "333", worst: "111"}, scores)

	var sum struct {
		RfmSummary struct {
			Grid []struct {
				RecencyScore, FrequencyScore, Count int
			}
			Labels []struct {
				Label string
				Count int
			}
			Scored     int
			ComputedAt *time.Time
		}
	}
	require.Empty(t, b.query(t, read, `{ rfmSummary { grid { recencyScore frequencyScore count }
		labels { label count } scored computedAt } }`, nil, &sum))
	s := sum.RfmSummary
	require.Len(t, s.Grid, 25)
	require.Equal(t, 2, s.Scored)
	for _, c := range s.Grid {
		want := 0
		if c.RecencyScore == c.FrequencyScore && (c.RecencyScore == 1 || c.RecencyScore == 3) {
			want = 1
		}
		require.Equal(t, want, c.Count, "cell R%d F%d", c.RecencyScore, c.FrequencyScore)
	}
	require.Len(t, s.Labels, 11)
	for _, l := range s.Labels {
		want := 0
		if l.Label == rfm.LabelLost || l.Label == rfm.LabelNeedAttention {
			want = 1
		}
		require.Equal(t, want, l.Count, l.Label)
	}
	require.NotNil(t, s.ComputedAt)
	require.True(t, now.Equal(*s.ComputedAt))
}

func TestComputeRFMMutation(t *testing.T) {
	t.Parallel()
	b := setupRFM(t)
	write := b.key(t, auth.ScopeWrite)
	read := b.key(t, auth.ScopeRead)

	const mutation = `mutation { computeRFM { id kind state } }`
	type job struct{ ID, Kind, State string }
	var first, second struct{ ComputeRFM job }
	require.Empty(t, b.query(t, write, mutation, nil, &first))
	require.Equal(t, "compute_rfm", first.ComputeRFM.Kind)
	require.Equal(t, "available", first.ComputeRFM.State)

	// While it is queued, asking again returns the same job.
	require.Empty(t, b.query(t, write, mutation, nil, &second))
	require.Equal(t, first.ComputeRFM.ID, second.ComputeRFM.ID)

	// It is pollable with job(id).
	var polled struct{ Job *job }
	require.Empty(t, b.query(t, read, `query ($id: ID!) { job(id: $id) { id kind state } }`, map[string]any{"id": first.ComputeRFM.ID}, &polled))
	require.Equal(t, &first.ComputeRFM, polled.Job)

	// A read-only key may not enqueue.
	require.Equal(t, []string{graph.CodeForbidden}, b.query(t, read, mutation, nil, nil))
}
