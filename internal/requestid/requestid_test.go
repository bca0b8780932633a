package requestid_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/requestid"
)

func TestHandlerAddsRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(requestid.NewHandler(slog.NewTextHandler(&buf, nil))).With("component", "x")

	log.InfoContext(requestid.With(context.Background(), "abc123"), "with id")
	require.Contains(t, buf.String(), "request_id=abc123")
	require.Contains(t, buf.String(), "component=x")

	buf.Reset()
	log.InfoContext(context.Background(), "without id")
	require.NotContains(t, buf.String(), "request_id")
}
