package graph_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
)

// TestErrorPresenterLogsOnlyServerFaults: a resolver stopped because its request ended (the
// client went away) is not logged as an error; any other internal failure is, and neither
// leaks its text to the client.
func TestErrorPresenterLogsOnlyServerFaults(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		err       error
		wantError bool
	}{
		{"request ended", ended, fmt.Errorf("loading customers: %w", context.Canceled), false},
		{"cancelled while the request lives", context.Background(), fmt.Errorf("loading customers: %w", context.Canceled), true},
		{"database failure", ended, errors.New("pq: connection reset"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			present := graph.ErrorPresenter(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			gerr := present(tt.ctx, tt.err)
			require.Equal(t, "INTERNAL", gerr.Extensions["code"])
			require.NotContains(t, gerr.Message, "pq:")
			require.Equal(t, tt.wantError, bytes.Contains(logs.Bytes(), []byte("level=ERROR")), logs.String())
		})
	}
}
