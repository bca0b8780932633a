package graph_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/secret"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
	"github.com/cairn-cdp/cairn/jobs"
)

func TestPrivacyRequestsAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	client := txn.NewClient(db)
	log := slog.New(slog.DiscardHandler)
	box, err := secret.New("0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	sched := &jobs.PrivacyScheduler{}
	priv, err := privacy.New(privacy.Config{DB: db, Box: box, Scheduler: sched})
	require.NoError(t, err)
	rc, _, err := jobs.NewClient(jobs.Deps{DB: db, Client: client, Log: log, Privacy: priv}, jobs.Options{})
	require.NoError(t, err)
	sched.Client = rc
	keys := auth.NewKeys(db, log)
	tracking := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	srv := server.New(server.Config{DB: db, Keys: keys, Log: log, People: priv.Handler(log), Tracking: tracking,
		Resolver: &graph.Resolver{DB: db, Client: client, Keys: keys, Log: log, Jobs: jobs.Reader{Client: rc}, Privacy: priv}})
	key := func(scopes ...auth.Scope) string {
		k, err := keys.Create(ctx, "k", scopes)
		require.NoError(t, err)
		return k.Secret
	}
	readKey, writeKey, privacyKey, adminKey := key(auth.ScopeRead), key(auth.ScopeWrite), key(auth.ScopePrivacy), key(auth.ScopeAdmin)

	cust := uuid.New()
	_, err = db.Exec(`INSERT INTO customers (id, created_at, updated_at, traits, trait_times, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), '{}', '{}', now(), now())`, cust)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
		VALUES (gen_random_uuid(), 'email', 'api.person@example.org', now(), now(), $1)`, cust)
	require.NoError(t, err)

	const record = `mutation($in: RecordConsentInput!) { recordConsent(input: $in) { purpose granted source } }`
	forbidden := func(t *testing.T, errs []gqlError) {
		t.Helper()
		require.Len(t, errs, 1)
		require.Equal(t, graph.CodeForbidden, errs[0].Extensions.Code)
	}

	t.Run("recordConsent needs write", func(t *testing.T) {
		in := map[string]any{"identity": map[string]any{"type": "email", "value": "API.Person@example.org"},
			"purpose": "email_marketing", "granted": true, "source": "signup", "proof": map[string]any{"form": "f1"}}
		forbidden(t, postGraphQL(t, srv, readKey, record, map[string]any{"in": in}, nil))
		var out struct{ RecordConsent struct{ Purpose string } }
		require.Empty(t, postGraphQL(t, srv, writeKey, record, map[string]any{"in": in}, &out))
		require.Equal(t, "email_marketing", out.RecordConsent.Purpose)
		in["granted"], in["identity"], in["customerId"] = false, nil, cust.String()
		require.Empty(t, postGraphQL(t, srv, writeKey, record, map[string]any{"in": in}, &out))
		in["purpose"] = "mind_reading"
		errs := postGraphQL(t, srv, writeKey, record, map[string]any{"in": in}, nil)
		require.Len(t, errs, 1)
		require.Equal(t, graph.CodeBadUserInput, errs[0].Extensions.Code)
	})
	t.Run("consents newest first and consentState", func(t *testing.T) {
		var out struct {
			Customer struct {
				Consents     []struct{ Granted bool }
				ConsentState []struct {
					Purpose string
					Granted *bool
				}
			}
		}
		require.Empty(t, postGraphQL(t, srv, readKey, `query($id: ID!) { customer(id: $id) {
			consents { granted } consentState { purpose granted } } }`, map[string]any{"id": cust}, &out))
		require.Len(t, out.Customer.Consents, 2)
		require.False(t, out.Customer.Consents[0].Granted, "the withdrawal is newest")
		require.Equal(t, "email_marketing", out.Customer.ConsentState[0].Purpose)
		require.False(t, *out.Customer.ConsentState[0].Granted)
		require.Nil(t, out.Customer.ConsentState[1].Granted)
	})
	t.Run("requestErasure and requestExport need privacy and enqueue a job naming no one", func(t *testing.T) {
		const erase = `mutation { requestErasure(identityType: "email", identityValue: "api.person@example.org") { id kind status } }`
		const export = `mutation { requestExport(identityType: "email", identityValue: "api.person@example.org") { id kind status downloadPath } }`
		forbidden(t, postGraphQL(t, srv, writeKey, erase, nil, nil))
		forbidden(t, postGraphQL(t, srv, writeKey, export, nil, nil))
		var out struct {
			RequestExport struct{ Kind, Status string }
		}
		require.Empty(t, postGraphQL(t, srv, privacyKey, export, nil, &out))
		require.Equal(t, "export", out.RequestExport.Kind)
		var er struct {
			RequestErasure struct{ Kind, Status string }
		}
		require.Empty(t, postGraphQL(t, srv, privacyKey, erase, nil, &er))
		require.Equal(t, "pending", er.RequestErasure.Status)
		var kinds []string
		rows, err := db.Query(`SELECT kind, args::text FROM river_job ORDER BY id`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var k, args string
			require.NoError(t, rows.Scan(&k, &args))
			require.NotContains(t, args, "api.person")
			kinds = append(kinds, k)
		}
		require.Equal(t, []string{"privacy_export", "privacy_erase"}, kinds)
		errs := postGraphQL(t, srv, privacyKey, `mutation { requestErasure(identityType: "shoe_size", identityValue: "9") { id } }`, nil, nil)
		require.Len(t, errs, 1)
		require.Equal(t, graph.CodeBadUserInput, errs[0].Extensions.Code)
	})
	t.Run("suppressions and liftSuppression", func(t *testing.T) {
		var out struct {
			Suppressions struct{ TotalCount int }
		}
		forbidden(t, postGraphQL(t, srv, readKey, `{ suppressions { totalCount } }`, nil, nil))
		require.Empty(t, postGraphQL(t, srv, privacyKey, `{ suppressions(first: 10) { totalCount nodes { hash } hasNextPage } }`, nil, &out))
		const lift = `mutation { liftSuppression(identityType: "email", identityValue: "api.person@example.org") }`
		forbidden(t, postGraphQL(t, srv, privacyKey, lift, nil, nil))
		var lifted struct{ LiftSuppression bool }
		require.Empty(t, postGraphQL(t, srv, adminKey, lift, nil, &lifted))
		require.False(t, lifted.LiftSuppression)
	})
	t.Run("preferenceLink", func(t *testing.T) {
		var out struct{ PreferenceLink string }
		forbidden(t, postGraphQL(t, srv, writeKey, `query($id: ID!) { preferenceLink(customerId: $id) }`, map[string]any{"id": cust}, nil))
		require.Empty(t, postGraphQL(t, srv, privacyKey, `query($id: ID!) { preferenceLink(customerId: $id) }`, map[string]any{"id": cust}, &out))
		require.True(t, strings.HasPrefix(out.PreferenceLink, "/preferences/"))

		// The people's endpoints are served beside the tracking API's /v1/, without an API key.
		tok := strings.TrimPrefix(out.PreferenceLink, "/preferences/")
		for path, want := range map[string]int{
			out.PreferenceLink:             http.StatusOK,
			"/v1/preferences/" + tok:       http.StatusOK,
			"/v1/preferences/" + tok + "x": http.StatusNotFound,
			"/v1/exports/" + tok:           http.StatusNotFound, // a preference token is no export token
			"/v1/track":                    http.StatusUnauthorized,
		} {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			require.Equal(t, want, rec.Code, path)
		}
	})
}
