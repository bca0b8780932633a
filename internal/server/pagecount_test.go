package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// TestPageInfoWithoutTotalCountSkipsCount checks that a page asking for pageInfo but not
// totalCount runs no COUNT, and that pageInfo is still right.
func TestPageInfoWithoutTotalCountSkipsCount(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	plain := txn.NewClient(db)
	for i := range 3 {
		_, err := plain.Customer.Create().SetEmail(fmt.Sprintf("c%d@example.com", i)).Save(ctx)
		require.NoError(t, err)
	}
	var (
		mu    sync.Mutex
		stmts []string
	)
	counting := ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(dialect.Postgres, db),
		func(_ context.Context, v ...any) { mu.Lock(); stmts = append(stmts, fmt.Sprint(v...)); mu.Unlock() })))
	log := slog.New(slog.DiscardHandler)
	keys := auth.NewKeys(db, log)
	b := &testBundle{db: db, keys: keys, srv: server.New(server.Config{DB: db, Keys: keys, Log: log,
		Resolver: &graph.Resolver{DB: db, Client: counting, Keys: keys, Log: log}})}
	secret := b.key(t, auth.ScopeRead)

	tests := []struct {
		name      string
		query     string
		wantCount bool
		want      string
	}{
		{name: "pageInfo only", query: `{ customers(first: 2) { pageInfo { hasNextPage } edges { node { email } } } }`,
			want: `"pageInfo":{"hasNextPage":true}`},
		{name: "last page", query: `{ customers(first: 3) { pageInfo { hasNextPage } edges { node { email } } } }`,
			want: `"pageInfo":{"hasNextPage":false}`},
		{name: "through a fragment", query: `{ customers(first: 2) { ...page } } fragment page on CustomerConnection { pageInfo { hasNextPage } edges { node { email } } }`,
			want: `"hasNextPage":true`},
		{name: "totalCount still counts", query: `{ customers(first: 2) { totalCount pageInfo { hasNextPage } } }`,
			wantCount: true, want: `"totalCount":3`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			stmts = nil
			mu.Unlock()
			_, resp := b.do(t, secret, tc.query, nil)
			require.Empty(t, resp.Errors)
			require.Contains(t, string(resp.Data["customers"]), tc.want)
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, tc.wantCount, strings.Contains(strings.Join(stmts, "\n"), "COUNT("), stmts)
		})
	}
}
