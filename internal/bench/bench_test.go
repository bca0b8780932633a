package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

// fakeServer acknowledges /v1/batch and /v1/track for the key "k", counting messages.
type fakeServer struct {
	batchEvents, trackEvents atomic.Int64
	srv                      *httptest.Server
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, _, ok := r.BasicAuth(); !ok || user != "k" {
			http.Error(w, `{"success":false,"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/batch":
			var b struct{ Batch []json.RawMessage }
			if json.Unmarshal(body, &b) != nil {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			f.batchEvents.Add(int64(len(b.Batch)))
		case "/v1/track":
			f.trackEvents.Add(1)
		default:
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestRunCountsAcknowledgedEvents(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	rep, err := Run(t.Context(), Options{
		URL: f.srv.URL, Key: "k", Clients: 3, Batch: 7, Events: 500, Duration: time.Minute,
		Rate: 50, TrackDuration: time.Second, TrackWorkers: 4,
	})
	require.NoError(t, err)
	require.EqualValues(t, 500, rep.Batch.Events, "the event budget is exact")
	require.EqualValues(t, 501, f.batchEvents.Load(), "plus the one check event")
	require.Zero(t, rep.Batch.Errors)
	require.EqualValues(t, rep.Batch.Latency.N, rep.Batch.Requests)
	if _, ok := machineCPU(); ok {
		require.Positive(t, rep.Batch.CPU, "the machine's busy time over the phase is measured")
		require.GreaterOrEqual(t, rep.Cores, runtime.NumCPU(), "every core /proc/stat lists, at least those this process may use")
	}
	require.NotNil(t, rep.Track)
	// A request cut off by the phase's end may reach the server without being counted.
	require.LessOrEqual(t, rep.Track.Events, f.trackEvents.Load())
	require.Positive(t, rep.Track.Events)
	require.EqualValues(t, rep.Track.Latency.N, rep.Track.Events)
	require.LessOrEqual(t, rep.Track.Events, int64(52), "the rate limit holds: 1 s at 50/s, plus a burst of one")
}

func TestTrackWithProbe(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	var probed []bool
	load, err := TrackWithProbe(t.Context(), Options{URL: f.srv.URL, Key: "k", Rate: 40, TrackWorkers: 2},
		func(ctx context.Context, post Poster) {
			ok, _ := post(ctx, "/v1/track", []byte(`{"type":"track","userId":"p","event":"Probe"}`))
			probed = append(probed, ok)
			ok, _ = post(ctx, "/v1/nowhere", []byte(`{}`))
			probed = append(probed, ok)
			time.Sleep(500 * time.Millisecond)
		})
	require.NoError(t, err)
	require.Equal(t, []bool{true, false}, probed, "the probe posts with the key; a refusal is reported")
	require.GreaterOrEqual(t, load.Elapsed, 500*time.Millisecond, "the load runs as long as the probe")
	require.Less(t, load.Elapsed, 5*time.Second, "and stops when it returns")
	require.Positive(t, load.Events)
	require.LessOrEqual(t, load.Events+1, f.trackEvents.Load(), "the load and the probe both reached /v1/track")
	require.LessOrEqual(t, float64(load.Events), 40*load.Elapsed.Seconds()+2, "the load keeps its rate")

	_, err = TrackWithProbe(t.Context(), Options{URL: f.srv.URL, Key: "k"}, func(context.Context, Poster) {})
	require.ErrorContains(t, err, "positive rate")
}

func TestRunReportsRejections(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	_, err := Run(t.Context(), Options{URL: f.srv.URL, Key: "wrong", Events: 10})
	require.ErrorContains(t, err, "401")
}

func TestRunRefusesRemoteTargets(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://example.com:8080", "http://10.1.2.3", "ftp://localhost"} {
		t.Run("refused "+u, func(t *testing.T) {
			t.Parallel()
			_, err := Run(t.Context(), Options{URL: u, Key: "k"})
			require.Error(t, err, u)
		})
	}
	for _, u := range []string{"http://localhost:1", "http://127.0.0.1:1", "http://[::1]:1"} {
		t.Run("allowed "+u, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, CheckTarget(u, false), u)
		})
	}
	require.NoError(t, CheckTarget("http://example.com", true))
}

func TestCopyBaseline(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	var logs strings.Builder
	rep, err := Run(t.Context(), Options{SkipHTTP: true, DB: db, CopyRows: 12_345, People: 100, Seed: 9, Log: &logs})
	require.NoError(t, err)
	require.NotNil(t, rep.Copy)
	require.EqualValues(t, 12_345, rep.Copy.Rows)
	require.Positive(t, rep.Copy.RowsPerSec())
	if _, ok := machineCPU(); ok {
		require.Positive(t, rep.Copy.CPUPerRow())
	}
	require.InDelta(t, 400, rep.Copy.RowBytes, 150, "rows are about the size the target assumes")
	require.Contains(t, logs.String(), "bench_copy_")
	require.Zero(t, scratchTables(t, db), "the scratch table is dropped")
}

func scratchTables(t *testing.T, db *sql.DB) int {
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\_copy\_%'`).Scan(&n))
	return n
}

func TestParseCPULine(t *testing.T) {
	t.Parallel()
	// user nice system idle iowait irq softirq steal guest guest_nice
	d, err := parseCPULine("cpu  1000 20 300 50000 700 10 5 3 40 0")
	require.NoError(t, err)
	require.Equal(t, time.Duration(1000+20+300+10+5+3)*10*time.Millisecond, d, "idle, iowait and guest are not counted")
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu a 2 3 4 5 6 7 8"} {
		t.Run(fmt.Sprintf("bad line %q", bad), func(t *testing.T) {
			t.Parallel()
			_, err := parseCPULine(bad)
			require.Error(t, err, bad)
		})
	}
	require.Equal(t, 25*time.Microsecond, perEvent(25*time.Millisecond, 1000))
	require.Zero(t, perEvent(time.Second, 0))
}

func TestCountCores(t *testing.T) {
	t.Parallel()
	stat := "cpu  10 0 5 100 0 0 0 0 0 0\ncpu0 5 0 2 50 0 0 0 0 0 0\ncpu1 5 0 3 50 0 0 0 0 0 0\n" +
		"intr 12345\nctxt 99\ncpu_extra 1\nprocs_running 2\n"
	require.Equal(t, 2, countCores(stat), "per-core lines only: not the total, nor other cpu-prefixed keys")
	require.Zero(t, countCores(""))
}

func TestFullCPURatio(t *testing.T) {
	t.Parallel()
	copyRes := &CopyResult{Rows: 40_000, Elapsed: time.Second, CPU: 1100 * time.Millisecond}
	batch := &Phase{Events: 12_000, Elapsed: time.Second, CPU: 1500 * time.Millisecond} // 125µs/event, 1.5 cores
	for _, tc := range []struct {
		name string
		rep  Report
		want float64
	}{
		// 2 cores / 125µs = 16,000 events/s, over 40,000 rows/s.
		{"measured", Report{Batch: batch, Copy: copyRes, Cores: 2}, 0.4},
		{"cores unknown", Report{Batch: batch, Copy: copyRes}, 0},
		{"no copy", Report{Batch: batch, Cores: 2}, 0},
		{"cpu unknown", Report{Batch: &Phase{Events: 12_000, Elapsed: time.Second}, Copy: copyRes, Cores: 2}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, tc.rep.FullCPURatio(), 1e-9)
		})
	}
	require.InDelta(t, 1.5, batch.Cores(), 1e-9)
	require.InDelta(t, 1.1, copyRes.Cores(), 1e-9)
	require.Zero(t, Phase{Events: 1}.Cores(), "unknown CPU")
	require.InDelta(t, 0.3, (&Report{Batch: batch, Copy: copyRes}).Ratio(), 1e-9, "the measured ratio, beside the ceiling")
}
