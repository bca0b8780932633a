package shell_test

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/shell"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{name: "plain word", in: "listen_addresses=127.0.0.1", want: "listen_addresses=127.0.0.1"},
		{name: "path", in: "/tmp/cairn/run", want: "/tmp/cairn/run"},
		{name: "empty", in: "", want: "''"},
		{name: "space", in: "my file.ndjson", want: "'my file.ndjson'"},
		{name: "single quote", in: "it's", want: `'it'\''s'`},
		{name: "dollar and glob", in: "$HOME/*", want: "'$HOME/*'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := shell.Quote(tc.in)
			require.Equal(t, tc.want, got)
			out, err := exec.Command("/bin/sh", "-c", "printf %s "+got).Output()
			require.NoError(t, err)
			require.Equal(t, tc.in, string(out), "the shell reads the quoted word back as the input")
		})
	}
}
