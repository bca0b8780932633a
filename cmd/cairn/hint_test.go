package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestBootstrapHintURL: the curl line printed with the first admin key reaches the server at
// the address it listens on (CAIRN_ADDR).
func TestBootstrapHintURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, url string }{
		{":8080", "http://localhost:8080/graphql"},
		{"127.0.0.1:18080", "http://127.0.0.1:18080/graphql"},
		{"[::1]:80", "http://[::1]:80/graphql"},
		{"0.0.0.0:9090", "http://localhost:9090/graphql"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			a := &app.App{Config: app.Config{Addr: tc.addr}, DB: testdb.New(t), Log: slog.New(slog.DiscardHandler)}
			cmd := &cobra.Command{}
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetContext(context.Background())
			require.NoError(t, bootstrapAdminKey(cmd, a))
			require.Contains(t, out.String(), " "+tc.url+"\n")
		})
	}
}
