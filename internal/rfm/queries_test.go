package rfm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseQueries(t *testing.T) {
	t.Parallel()

	t.Run("NamedBlocks", func(t *testing.T) {
		t.Parallel()
		qs, err := parseQueries("-- header comment\n\n-- name: a\n-- about a\nSELECT 1;\n\n-- name: b\nSELECT\n  -- inline note\n  2\n")
		require.NoError(t, err)
		require.Equal(t, map[string]string{"a": "SELECT 1", "b": "SELECT\n  2"}, qs)
	})
	t.Run("EmptyBlock", func(t *testing.T) {
		t.Parallel()
		_, err := parseQueries("-- name: a\n-- nothing\n-- name: b\nSELECT 1;\n")
		require.ErrorContains(t, err, `"a" is empty`)
	})
	t.Run("Duplicate", func(t *testing.T) {
		t.Parallel()
		_, err := parseQueries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
		require.ErrorContains(t, err, "twice")
	})
	t.Run("EmbeddedFileHasEveryQuery", func(t *testing.T) {
		t.Parallel()
		require.NotPanics(t, func() {
			mustParseQueries(queriesSQL, "lock", "drop-scores", "create-scores", "fill-scores",
				"analyze-scores", "batch-bounds", "apply-batch", "summary")
		})
		require.Panics(t, func() { mustParseQueries(queriesSQL, "no-such-query") })
	})
}
