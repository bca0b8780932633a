package wire

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"shorter", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"ascii cut", "abcdef", 3, "abc…"},
		{"two-byte character not split", "aé", 2, "a…"},
		{"four-byte character not split", "ab😀c", 4, "ab…"},
		{"cut after a whole character", "é😀", 6, "é😀"},
		{"cut inside the first character", "😀x", 2, "…"},
		{"zero", "abc", 0, "…"},
		{"negative", "abc", -1, "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := truncate(tc.s, tc.n)
			require.Equal(t, tc.want, got)
			require.True(t, utf8.ValidString(got))
		})
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("aé😀", 3)
	f.Add(strings.Repeat("日本", 30), 40)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := truncate(s, n)
		if len(s) <= n {
			require.Equal(t, s, got)
			return
		}
		kept := strings.TrimSuffix(got, "…")
		require.True(t, strings.HasPrefix(s, kept))
		require.LessOrEqual(t, len(kept), max(n, 0))
		if utf8.ValidString(s) {
			require.True(t, utf8.ValidString(got), "%q cut to %q", s, got)
		}
	})
}
