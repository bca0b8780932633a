package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

type testBundle struct {
	db     *sql.DB
	client *ent.Client
	keys   *auth.Keys
	res    *identity.Resolver
	pipe   *Pipeline
	srv    *httptest.Server
	key    string // secret of a key with the ingest scope
}

type setupOpts struct {
	pipeline *Options
	identity *identity.Config
	handler  *HandlerOptions
}

func setup(t testing.TB, o *setupOpts) *testBundle {
	t.Helper()
	if o == nil {
		o = &setupOpts{}
	}
	ctx := context.Background()
	db := testdb.New(t)
	cfg := identity.DefaultConfig()
	if o.identity != nil {
		cfg = *o.identity
	}
	res, err := identity.New(ctx, db, cfg, nil)
	require.NoError(t, err)
	t.Cleanup(res.Close)
	pipe, err := NewPipeline(ctx, db, res, o.pipeline)
	require.NoError(t, err)
	keys := auth.NewKeys(db, nil)
	created, err := keys.Create(ctx, "writer", []auth.Scope{auth.ScopeIngest})
	require.NoError(t, err)
	srv := httptest.NewServer(NewHandler(pipe, keys, o.handler))
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, pipe.Close())
	})
	return &testBundle{db: db, client: txn.NewClient(db), keys: keys, res: res, pipe: pipe, srv: srv, key: created.Secret}
}

type response struct {
	status int
	body   map[string]any
}

// post sends body (a string/[]byte sent as is, anything else JSON-encoded) to path with the
// bundle's key as Basic username.
func (b *testBundle) post(t testing.TB, path string, body any) response {
	t.Helper()
	return b.postWith(t, path, body, b.key, false)
}

func (b *testBundle) postWith(t testing.TB, path string, body any, key string, gz bool) response {
	t.Helper()
	var raw []byte
	switch v := body.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		var err error
		raw, err = json.Marshal(v)
		require.NoError(t, err)
	}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, err := zw.Write(raw)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		raw = buf.Bytes()
	}
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := response{status: resp.StatusCode}
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out.body), "response %s", data)
	}
	return out
}

func (b *testBundle) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow(query, args...).Scan(&n))
	return n
}

// customerOf returns the live customer holding identifier (typ, value).
func (b *testBundle) customerOf(t testing.TB, typ, value string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, b.db.QueryRow(`SELECT customer_id FROM identities WHERE type = $1 AND value = $2`, typ, value).Scan(&id))
	return id
}

func (b *testBundle) traits(t testing.TB, id uuid.UUID) map[string]any {
	t.Helper()
	var raw []byte
	require.NoError(t, b.db.QueryRow(`SELECT traits FROM customers WHERE id = $1`, id).Scan(&raw))
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func (b *testBundle) submit(t testing.TB, msgs ...wire.Message) Result {
	t.Helper()
	res, err := b.pipe.Submit(context.Background(), msgs, "test")
	require.NoError(t, err)
	return res
}

// addSegment creates a segment (any rule), so ingest queues the customers it touches.
func (b *testBundle) addSegment(t testing.TB) {
	t.Helper()
	_, err := b.db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
		VALUES (gen_random_uuid(), now(), now(), 'pro', '{"trait":{"key":"plan","op":"EQ","value":"pro"}}', 3600, 0, 'ready')`)
	require.NoError(t, err)
}

// obj is m as JSON text, for the objects of messages built by hand.
func obj(m map[string]any) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
