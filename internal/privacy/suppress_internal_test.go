package privacy

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/secret"
)

func newTestSuppressions(t testing.TB, n int) *Suppressions {
	t.Helper()
	box, err := secret.New("0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	s := NewSuppressions(nil, box)
	hashes := make([][sha256.Size]byte, n)
	for i := range hashes {
		hashes[i] = s.Hash(identity.TypeEmail, fmt.Sprintf("erased-%d@example.org", i))
	}
	s.add(hashes)
	return s
}

func TestSuppressed(t *testing.T) {
	t.Parallel()
	s := newTestSuppressions(t, 10)
	for _, tc := range []struct {
		name     string
		ids      []identity.Identifier
		previous string
		want     bool
	}{
		{"none", nil, "", false},
		{"other person", []identity.Identifier{{Type: "email", Value: "kept@example.org"}}, "", false},
		{"erased email", []identity.Identifier{{Type: "user_id", Value: "u"}, {Type: "email", Value: "erased-3@example.org"}}, "", true},
		{"same value, other type", []identity.Identifier{{Type: "user_id", Value: "erased-3@example.org"}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, s.Suppressed(tc.ids, tc.previous))
		})
	}
	s.add([][sha256.Size]byte{s.Hash(identity.TypeAnonymousID, "old-anon")})
	require.True(t, s.Suppressed([]identity.Identifier{{Type: "user_id", Value: "new"}}, "old-anon"), "an alias's previousId counts")
}

// BenchmarkSuppressed is ingest's per-message cost: a message with three identifiers, against
// an empty list (the common case) and a list of 100,000 entries.
func BenchmarkSuppressed(b *testing.B) {
	ids := []identity.Identifier{{Type: "anonymous_id", Value: "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{Type: "user_id", Value: "user-123456"}, {Type: "email", Value: "someone@example.org"}}
	for _, n := range []int{0, 100_000} {
		s := newTestSuppressions(b, n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.Suppressed(ids, "") {
					b.Fatal("suppressed")
				}
			}
		})
	}
}
