package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestGracefulShutdownFinishesInFlightRequests cancels the server while a request is running and
// expects that request to complete normally before Run returns.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	log := slog.New(slog.DiscardHandler)
	srv := server.New(server.Config{DB: db, Keys: auth.NewKeys(db, log), Log: log, Resolver: &graph.Resolver{}, Tracking: slow})

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx, "127.0.0.1:0", 5*time.Second, func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc

	type result struct {
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+addr.String()+"/v1/track", "application/json", nil)
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		resc <- result{body: string(b), err: err}
	}()
	<-started
	cancel()

	res := <-resc
	require.NoError(t, res.err)
	require.Equal(t, "done", res.body)
	require.NoError(t, <-runErr)

	_, err := http.Get("http://" + addr.String() + "/healthz")
	require.Error(t, err, "the listener is closed after shutdown")
}
