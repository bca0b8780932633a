package pgdev_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/pgdev"
)

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{name: "url with password", dsn: "postgres://cairn:hunter2@db:5432/cairn", want: "postgres://cairn:xxxxx@db:5432/cairn"},
		{name: "key=value with password", dsn: "host=db password=hunter2", want: "(connection string hidden: it contains a password)"},
		{name: "password query parameter", dsn: "postgres://db/cairn?password=hunter2&sslmode=disable", want: "postgres://db/cairn?password=xxxxx&sslmode=disable"},
		{name: "unparseable url", dsn: "postgres://cairn:hun%zz@db/cairn", want: "(connection URL hidden: it cannot be parsed)"},
		{name: "no password", dsn: "postgres://cairn@127.0.0.1:5432/cairn", want: "postgres://cairn@127.0.0.1:5432/cairn"},
		{name: "key=value without password", dsn: "host=/tmp dbname=cairn", want: "host=/tmp dbname=cairn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, pgdev.RedactDSN(tc.dsn))
			require.NotContains(t, pgdev.RedactDSN(tc.dsn), "hunter2")
		})
	}
}
