package segment

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{name: "short", in: "abc", n: 5, want: "abc"},
		{name: "exact", in: "abcde", n: 5, want: "abcde"},
		{name: "ascii cut", in: "abcdef", n: 3, want: "abc"},
		{name: "two-byte rune across the cut", in: "aé", n: 2, want: "a"},
		{name: "four-byte rune across the cut", in: "ab😀", n: 4, want: "ab"},
		{name: "rune ending at the cut", in: "aéb", n: 3, want: "aé"},
		{name: "invalid bytes", in: "a\xffb", n: 10, want: "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := truncate(tc.in, tc.n)
			require.Equal(t, tc.want, got)
			require.True(t, utf8.ValidString(got))
		})
	}
}

// TestComputeRecordsLongFailure stores rules whose error message is longer than the recorded
// 1,000 bytes and made of two-byte runes, so that one of the two paddings puts a rune across
// the cut: the failure is still recorded, as valid UTF-8.
func TestComputeRecordsLongFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for _, pad := range []string{"", "x"} {
		t.Run(fmt.Sprintf("pad %q", pad), func(t *testing.T) {
			t.Parallel()
			seg := b.create(t, "long error "+pad, trait("plan", OpEQ, "pro"))
			purpose := pad + strings.Repeat("é", 700)
			_, err := b.db.Exec(`UPDATE segments SET rule = jsonb_build_object('consent', jsonb_build_object('purpose', $2::text, 'granted', true)) WHERE id = $1`, seg.ID, purpose)
			require.NoError(t, err)
			_, err = b.svc.Compute(ctx, seg.ID)
			require.ErrorIs(t, err, ErrInvalidRule)
			got, err := b.client.Segment.Get(ctx, seg.ID)
			require.NoError(t, err)
			require.Equal(t, "failed", string(got.Status))
			require.True(t, utf8.ValidString(got.Error))
			require.LessOrEqual(t, len(got.Error), 1000)
			require.Contains(t, got.Error, "unknown purpose")
		})
	}
}

// TestComputeReportsUnrecordedFailure makes recording the failure itself fail (a trigger
// refuses status 'failed'): Compute returns both errors instead of dropping the second.
func TestComputeReportsUnrecordedFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	seg := b.create(t, "broken", trait("plan", OpEQ, "pro"))
	_, err := b.db.Exec(`UPDATE segments SET rule = '{"trait": {"key": "plan", "op": "LIKE", "value": 1}}' WHERE id = $1`, seg.ID)
	require.NoError(t, err)
	_, err = b.db.Exec(`CREATE FUNCTION refuse_failed() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refusing status failed'; END $$;
		CREATE TRIGGER refuse_failed BEFORE UPDATE ON segments FOR EACH ROW
		WHEN (NEW.status = 'failed') EXECUTE FUNCTION refuse_failed()`)
	require.NoError(t, err)
	_, err = b.svc.Compute(ctx, seg.ID)
	require.ErrorIs(t, err, ErrInvalidRule)
	require.ErrorContains(t, err, "refusing status failed")
}
