package textcut_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/textcut"
)

func TestPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"shorter", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"ascii cut", "abcdef", 3, "abc"},
		{"two-byte character not split", "aé", 2, "a"},
		{"four-byte character not split", "ab😀c", 4, "ab"},
		{"character ending at the cut", "aéb", 3, "aé"},
		{"cut inside the first character", "😀x", 2, ""},
		{"zero", "abc", 0, ""},
		{"negative", "abc", -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, textcut.Prefix(tc.s, tc.n))
		})
	}
}
