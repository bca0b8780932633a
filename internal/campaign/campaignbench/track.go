package campaignbench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// TrackReport is the tracking endpoints' latency under an open-loop load.
type TrackReport struct {
	Rate          int
	Workers       int // recording workers (0: recorded before answering)
	Requests      int
	Errors        int
	P50, P99, Max time.Duration
	Opens, Clicks int
	Stored        int // interactions the load stored
}

// trackingLoad serves /t/ in process through a real ingest pipeline and sends TrackRate
// requests a second (opens and clicks alternating, over 1,000 of the audience) for TrackFor,
// each on its own schedule whatever the latency of the others.
func (e *env) trackingLoad(ctx context.Context) (*TrackReport, error) {
	res, err := identity.New(ctx, e.db, identity.DefaultConfig(), nil)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	pipe, err := ingest.NewPipeline(ctx, e.db, res, nil)
	if err != nil {
		return nil, err
	}
	defer pipe.Close() //nolint:errcheck // Close only waits for the writers
	th := &campaign.TrackingHandler{DB: e.db, Tracking: e.tracking, Workers: e.o.TrackWorkers,
		Record: func(ctx context.Context, m wire.Message) (bool, error) {
			r, err := pipe.Submit(ctx, []wire.Message{m}, "email-tracking")
			return err == nil && r.Dropped == 0, err
		}}
	srv := httptest.NewServer(th)
	defer srv.Close()
	defer th.Close()

	rows, err := e.db.QueryContext(ctx, `SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL LIMIT 1000`, e.segment)
	if err != nil {
		return nil, err
	}
	var people []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		people = append(people, id)
	}
	rows.Close()
	if len(people) == 0 {
		return nil, fmt.Errorf("no audience to track")
	}
	link, err := e.tracking.LinkQuery(e.camp.ID, "https://shop.example/landing?utm_source=bench")
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, 2*len(people))
	for _, p := range people {
		tok := e.tracking.Token(e.camp.ID, p)
		paths = append(paths, "/t/o/"+tok+".gif", "/t/c/"+tok+link)
	}

	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	n := int(e.o.TrackFor.Seconds() * float64(e.o.TrackRate))
	lat := make([]time.Duration, n)
	errs := make([]bool, n)
	interval := time.Second / time.Duration(e.o.TrackRate)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			t0 := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+paths[i%len(paths)], nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
			resp, err := client.Do(req)
			lat[i] = time.Since(t0)
			if err != nil {
				errs[i] = true
				return
			}
			resp.Body.Close()
			errs[i] = resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusFound
		})
	}
	wg.Wait()
	srv.Close()
	th.Close() // every queued event recorded
	tr := &TrackReport{Rate: e.o.TrackRate, Requests: n, Workers: e.o.TrackWorkers}
	for _, bad := range errs {
		if bad {
			tr.Errors++
		}
	}
	slices.Sort(lat)
	tr.P50, tr.P99, tr.Max = lat[n/2], lat[n*99/100], lat[n-1]
	err = e.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE event = $2), count(*) FILTER (WHERE event = $3), count(*)
		FROM interactions WHERE event IN ($2, $3) AND properties ->> 'campaign_id' = $1`,
		e.camp.ID.String(), campaign.EventOpened, campaign.EventClicked).Scan(&tr.Opens, &tr.Clicks, &tr.Stored)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.o.Log, "tracking at %d/s: p50 %s p99 %s max %s, %d errors, %d stored\n", tr.Rate, tr.P50, tr.P99, tr.Max, tr.Errors, tr.Stored)
	return tr, nil
}
