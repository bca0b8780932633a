package privacy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/privacy"
)

// TestListSuppressionsRefusesBadPageSizes: a page size out of range is an input error, not a
// silently smaller page (which made a client think it had the whole list).
func TestListSuppressionsRefusesBadPageSizes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name  string
		first int
		ok    bool
	}{
		{"zero", 0, false},
		{"one", 1, true},
		{"the maximum", privacy.MaxSuppressionsPage, true},
		{"over the maximum", privacy.MaxSuppressionsPage + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := b.svc.ListSuppressions(context.Background(), tc.first, "")
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, privacy.ErrInvalidInput)
		})
	}
}
