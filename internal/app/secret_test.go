package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLocalSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := localSecret(dir)
	require.NoError(t, err)
	require.Len(t, first, 64)
	again, err := localSecret(dir)
	require.NoError(t, err)
	require.Equal(t, first, again, "the generated key is kept")

	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, "secret.key"), []byte("\n"), 0o600))
	_, err = localSecret(empty)
	require.ErrorContains(t, err, "secret.key is empty")
}

func TestRedact(t *testing.T) {
	t.Parallel()
	require.Equal(t, "postgres://cairn:xxxxx@db:5432/cairn", redact("postgres://cairn:hunter2@db:5432/cairn"))
	require.Equal(t, "(connection string hidden: it contains a password)", redact("host=db password=hunter2"))
}
