package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

// TestKillSafety runs the real binary, loads it with concurrent batches, SIGKILLs it mid-load
// and checks that every message it acknowledged (200) is in the database: an ack is only sent
// after commit, so no kill can lose one.
func TestKillSafety(t *testing.T) {
	t.Parallel()
	bin := buildCairn(t)
	env := append(os.Environ(), "DATABASE_URL="+testdb.URL(t), "CAIRN_SECRET_KEY="+testSecretKey, "CAIRN_LOG_LEVEL=error")

	keyCmd := exec.Command(bin, "keys", "create", "--name", "t", "--scopes", "ingest")
	keyCmd.Env = env
	out, err := keyCmd.Output()
	require.NoError(t, err, "keys create: %s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := lines[len(lines)-1]

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	serve := exec.Command(bin, "serve", "--workers", "0")
	serve.Env = append(env, "CAIRN_ADDR="+addr)
	var serveLog bytes.Buffer
	serve.Stderr = &serveLog
	require.NoError(t, serve.Start())
	exited := make(chan struct{})
	go func() { _ = serve.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		<-exited
	})
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 60*time.Second, 50*time.Millisecond, "server did not start: %s", &serveLog)

	var (
		mu     sync.Mutex
		acked  []string
		failed atomic.Int64
		seq    atomic.Int64
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				var ids []string
				var batch []any
				for range 50 {
					id := fmt.Sprintf("ks-%d", seq.Add(1))
					ids = append(ids, id)
					batch = append(batch, map[string]any{"type": "track", "event": "Load", "messageId": id,
						"userId": fmt.Sprint("user-", c), "anonymousId": fmt.Sprint("anon-", seq.Load()%97)})
				}
				body, _ := json.Marshal(map[string]any{"batch": batch})
				req, _ := http.NewRequest(http.MethodPost, base+"/v1/batch", bytes.NewReader(body))
				req.SetBasicAuth(key, "")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					if stop.Load() {
						return
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				} else {
					failed.Add(1)
				}
			}
		}()
	}

	// Let acknowledgements accumulate, then kill without warning while requests are in flight.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 2000
	}, 60*time.Second, 5*time.Millisecond, "no load acknowledged: %s", &serveLog)
	require.NoError(t, serve.Process.Signal(os.Kill))
	<-exited
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, acked)
	db, err := sql.Open("postgres", dbURLOf(env))
	require.NoError(t, err)
	defer db.Close()
	var stored int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM interactions WHERE message_id = ANY($1)`, pq.StringArray(acked)).Scan(&stored))
	require.Equal(t, len(acked), stored, "every acknowledged message survives the kill (%d requests failed after it)", failed.Load())
	var dups int
	require.NoError(t, db.QueryRow(`SELECT count(*) - count(DISTINCT message_id) FROM interactions`).Scan(&dups))
	require.Zero(t, dups)
}

func dbURLOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			return v
		}
	}
	return ""
}

// buildCairn builds the binary from the module root into a temporary directory.
func buildCairn(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the test's directory")
		dir = parent
	}
	bin := filepath.Join(t.TempDir(), "cairn")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cairn")
	build.Dir = dir
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}
