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
