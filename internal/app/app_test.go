package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

func TestBadDatabaseURLGivesClearError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, want, secret string
	}{
		{"unreachable", "postgres://cairn:hunter2@127.0.0.1:1/cairn?sslmode=disable&connect_timeout=2",
			"cannot connect to PostgreSQL at postgres://cairn:xxxxx@127.0.0.1:1/cairn", "hunter2"},
		{"malformed", "postgres://cairn:hunter2@[::1/cairn", "invalid DATABASE_URL", "hunter2"},
		{"unknown parameter", "postgres://127.0.0.1:1/cairn?sslmode=bogus", "sslmode", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := app.OpenDB(context.Background(), tt.url)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			if tt.secret != "" {
				require.NotContains(t, err.Error(), tt.secret, "the password must not be echoed")
			}
		})
	}
}

func TestOpenRequiresSecretKeyWithDatabaseURL(t *testing.T) {
	t.Parallel()
	cfg := app.Config{DatabaseURL: testdb.URL(t), LogLevel: "info"}
	_, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.OpenOptions{})
	require.ErrorContains(t, err, "CAIRN_SECRET_KEY")
}

func TestOpenMigratesAndConnects(t *testing.T) {
	t.Parallel()
	cfg := app.Config{DatabaseURL: testdb.URL(t), SecretKey: []byte("k"), LogLevel: "info"}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.OpenOptions{Migrate: true})
	require.NoError(t, err)
	defer a.Close(context.Background())
	n, err := a.Client.Customer.Query().Count(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestLoggerConfig(t *testing.T) {
	t.Parallel()
	_, err := app.Config{LogFormat: "xml", LogLevel: "info"}.NewLogger(io.Discard)
	require.ErrorContains(t, err, "CAIRN_LOG_FORMAT")
	_, err = app.Config{LogFormat: "json", LogLevel: "loud"}.NewLogger(io.Discard)
	require.ErrorContains(t, err, "CAIRN_LOG_LEVEL")
	_, err = app.Config{LogFormat: "json", LogLevel: "debug"}.NewLogger(io.Discard)
	require.NoError(t, err)
}
