package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/auth"
)

const listCustomers = `{ customers(first: 5) { totalCount edges { node { id } } } }`

func TestGraphQLAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	readKey := b.key(t, auth.ScopeRead)
	ingestKey := b.key(t, auth.ScopeIngest)

	tests := []struct {
		name     string
		secret   string
		wantHTTP int
		wantCode string
	}{
		{"no key", "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"garbage key", "not-a-key", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"wrong secret, real prefix", readKey[:len(readKey)-4] + "aaaa", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"ingest-only key", ingestKey, http.StatusForbidden, "FORBIDDEN"},
		{"read key", readKey, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := b.do(t, tt.secret, listCustomers, nil)
			require.Equal(t, tt.wantHTTP, status)
			if tt.wantCode == "" {
				require.Empty(t, resp.Errors)
				require.JSONEq(t, `{"totalCount":0,"edges":[]}`, string(resp.Data["customers"]))
				return
			}
			require.Equal(t, []string{tt.wantCode}, resp.codes())
			require.Nil(t, resp.Data)
		})
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	created, err := b.keys.Create(ctx, "soon revoked", []auth.Scope{auth.ScopeRead})
	require.NoError(t, err)

	status, _ := b.do(t, created.Secret, listCustomers, nil)
	require.Equal(t, http.StatusOK, status)

	_, err = b.keys.Revoke(ctx, created.Key.ID)
	require.NoError(t, err)
	status, resp := b.do(t, created.Secret, listCustomers, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, []string{"UNAUTHENTICATED"}, resp.codes())
}

func TestKeyManagementThroughGraphQL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.key(t, auth.ScopeAdmin)

	_, resp := b.do(t, admin, `mutation { createAPIKey(name: "ci", scopes: ["read", "write"]) { secret key { id name scopes } } }`, nil)
	require.Empty(t, resp.Errors)
	var created struct {
		Secret string
		Key    struct {
			ID     string
			Name   string
			Scopes []string
		}
	}
	require.NoError(t, jsonUnmarshal(resp.Data["createAPIKey"], &created))
	require.Equal(t, []string{"read", "write"}, created.Key.Scopes)

	// The new secret works, and its hash, never the secret, is stored.
	status, _ := b.do(t, created.Secret, listCustomers, nil)
	require.Equal(t, http.StatusOK, status)
	var stored int
	require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM api_keys WHERE hash = convert_to($1, 'UTF8')`, created.Secret).Scan(&stored))
	require.Zero(t, stored)

	_, resp = b.do(t, admin, `mutation($id: ID!) { revokeAPIKey(id: $id) { revokedAt } }`, map[string]any{"id": created.Key.ID})
	require.Empty(t, resp.Errors)
	status, _ = b.do(t, created.Secret, listCustomers, nil)
	require.Equal(t, http.StatusUnauthorized, status)

	// Both key changes are audited.
	var actions []string
	rows, err := b.db.Query(`SELECT action FROM audit_events WHERE target_id = $1 ORDER BY occurred_at`, created.Key.ID)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.Equal(t, []string{"api_key.create", "api_key.revoke"}, actions)

	// Unknown scopes are a clear input error.
	_, resp = b.do(t, admin, `mutation { createAPIKey(name: "x", scopes: ["root"]) { secret } }`, nil)
	require.Equal(t, []string{"BAD_USER_INPUT"}, resp.codes())
}
