package bench

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{name: "plain", stat: "42 (cairn) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 8 0", want: 1750 * time.Millisecond},
		{name: "command with spaces and parentheses", stat: "7 (postgres: x (y)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0", want: 70 * time.Millisecond},
		{name: "truncated", stat: "7 (p) R 1 7", wantErr: true},
		{name: "no command", stat: "garbage", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseProcStat(tc.stat)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		_, ok := procCPU(os.Getpid())
		require.True(t, ok)
	}
}
