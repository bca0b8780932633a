package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

// run executes the CLI in-process with args and returns stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// These tests set process environment, so they do not run in parallel.

func TestKeysCreateListRevoke(t *testing.T) {
	dbURL := testdb.URL(t)
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("CAIRN_SECRET_KEY", testSecretKey)
	t.Setenv("CAIRN_LOG_LEVEL", "error")

	out, err := run(t, "keys", "create", "--name", "ci", "--scopes", "read,write")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	require.Regexp(t, `^cairn_[a-z0-9]+_[a-z0-9]+$`, secret, "the secret is alone on the last line")

	keys := auth.NewKeys(openURL(t, dbURL), nil)
	p, err := keys.Authenticate(context.Background(), secret)
	require.NoError(t, err)
	require.True(t, p.Has(auth.ScopeWrite))
	require.False(t, p.Has(auth.ScopePrivacy))

	out, err = run(t, "keys", "list")
	require.NoError(t, err)
	require.Contains(t, out, "ci")
	require.Contains(t, out, "read,write")
	require.NotContains(t, out, secret)

	_, err = run(t, "keys", "revoke", p.KeyID.String())
	require.NoError(t, err)
	// Another process trusts its cached authentication for up to auth.KeyCacheTTL (tested in
	// internal/auth); a process that has not seen the key reads the revocation at once.
	keys = auth.NewKeys(openURL(t, dbURL), nil)
	_, err = keys.Authenticate(context.Background(), secret)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestKeysCreateRejectsBadInput(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/never-reached?sslmode=disable")
	t.Setenv("CAIRN_SECRET_KEY", testSecretKey)
	_, err := run(t, "keys", "create", "--name", "x", "--scopes", "read,superuser")
	require.ErrorContains(t, err, `unknown scope "superuser"`)
	_, err = run(t, "keys", "create", "--scopes", "read")
	require.ErrorContains(t, err, `"name" not set`)
	_, err = run(t, "keys", "revoke", "not-a-uuid")
	require.ErrorContains(t, err, "invalid key id")
}

func TestBadDatabaseURLIsAClearError(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://cairn:hunter2@127.0.0.1:1/cairn?sslmode=disable&connect_timeout=2")
	t.Setenv("CAIRN_SECRET_KEY", testSecretKey)
	_, err := run(t, "migrate")
	require.ErrorContains(t, err, "cannot connect to PostgreSQL at postgres://cairn:xxxxx@127.0.0.1:1/cairn")
	require.NotContains(t, err.Error(), "hunter2")
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Setenv("DATABASE_URL", testdb.URL(t)) // already migrated from the template
	t.Setenv("CAIRN_SECRET_KEY", testSecretKey)
	out, err := run(t, "migrate")
	require.NoError(t, err)
	require.Contains(t, out, "database is up to date")
}

func TestImportRejectsBadFlagsBeforeOpening(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/never-reached?sslmode=disable&connect_timeout=1")
	t.Setenv("CAIRN_SECRET_KEY", testSecretKey)
	_, err := run(t, "import", "--skip", "-1", "events.ndjson")
	require.ErrorContains(t, err, "skip must not be negative")
	_, err = run(t, "import", "--format", "xml", "-")
	require.ErrorContains(t, err, `unknown format "xml"`)
}

// TestBadIngestSettingRefusedBeforeOpening: serve and import refuse a bad ingest or identity
// setting before they start or migrate the database (or create serve's bootstrap key).
func TestBadIngestSettingRefusedBeforeOpening(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/never-reached?sslmode=disable&connect_timeout=1")
	t.Setenv("CAIRN_SECRET_KEY", testSecretKey)
	t.Setenv("CAIRN_INGEST_WRITERS", "many")
	_, err := run(t, "serve", "--bootstrap-admin-key")
	require.ErrorContains(t, err, "CAIRN_INGEST_WRITERS")
	_, err = run(t, "import", "events.ndjson")
	require.ErrorContains(t, err, "CAIRN_INGEST_WRITERS")
}

// TestResumeCommandKeepsFlags: the resume hint of an interrupted import repeats the flags that
// change what is imported, with the new --skip, and quotes what a shell would split.
func TestResumeCommandKeepsFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		skip int
		name string
		want string
	}{
		{nil, 120, "events.ndjson", "cairn import --skip 120 events.ndjson"},
		{[]string{"--format", "csv", "--source", "crm export", "--skip", "10"}, 250, "data.txt",
			"cairn import --format=csv --source='crm export' --skip 250 data.txt"},
		{[]string{"-q"}, 0, "my file's.csv", `cairn import --quiet=true 'my file'\''s.csv'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := newImportCmd()
			require.NoError(t, cmd.ParseFlags(c.args))
			require.Equal(t, c.want, resumeCommand(cmd, c.skip, c.name))
		})
	}
}
