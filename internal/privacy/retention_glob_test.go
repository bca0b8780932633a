package privacy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGlobToLike(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, glob, want string
		wantErr          bool
	}{
		{name: "star", glob: "Order *", want: "Order %"},
		{name: "question mark", glob: "Page ?", want: "Page _"},
		{name: "literal LIKE metacharacters are escaped", glob: `100%_off\`, want: `100\%\_off\\`},
		{name: "quotes stay data", glob: `it's "x"`, want: `it's "x"`},
		{name: "empty", glob: "", wantErr: true},
		{name: "too long", glob: strings.Repeat("a", maxGlobLen+1), wantErr: true},
		{name: "NUL", glob: "a\x00b", wantErr: true},
		{name: "invalid UTF-8", glob: "a\xffb", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := globToLike(tc.glob)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrInvalidPolicy)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
