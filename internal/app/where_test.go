package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, want string }{
		{":8080", "http://localhost:8080"},
		{":9090", "http://localhost:9090"},
		{"127.0.0.1:18080", "http://127.0.0.1:18080"},
		{"0.0.0.0:8080", "http://localhost:8080"},
		{"[::]:8080", "http://localhost:8080"},
		{"[::1]:80", "http://[::1]:80"},
		{"localhost:3000", "http://localhost:3000"},
		{"cairn.internal:8080", "http://cairn.internal:8080"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, BaseURL(tc.addr))
		})
	}
}

func TestLogWhere(t *testing.T) {
	t.Parallel()
	existing := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(existing, "pg", "data"), 0o755))
	fresh := filepath.Join(t.TempDir(), "elsewhere")
	tests := []struct {
		name     string
		cfg      Config
		want     []string
		wantNone string
	}{
		{"database URL, password hidden", Config{DatabaseURL: "postgres://cairn:hunter2@db:5432/cairn"},
			[]string{"DATABASE_URL", "postgres://cairn:xxxxx@db:5432/cairn"}, "hunter2"},
		{"existing local cluster", Config{DataDir: existing}, []string{"using the local PostgreSQL", "data_dir=" + existing}, "creating"},
		{"new local cluster", Config{DataDir: fresh}, []string{"creating a new local PostgreSQL", "data_dir=" + fresh}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logWhere(slog.New(slog.NewTextHandler(&buf, nil)), tc.cfg)
			for _, w := range tc.want {
				require.Contains(t, buf.String(), w)
			}
			if tc.wantNone != "" {
				require.NotContains(t, buf.String(), tc.wantNone)
			}
		})
	}
}
