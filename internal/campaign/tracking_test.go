package campaign

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/secret"
)

type trackingBundle struct {
	*bundle
	tracking *Tracking
	handler  *TrackingHandler
	srv      *httptest.Server
	pipe     *ingest.Pipeline
	client   *http.Client
}

func setupTracking(t *testing.T) *trackingBundle { return setupTrackingWith(t, 0) }

// setupTrackingWith serves tracking with workers recording asynchronously (0: in the request).
func setupTrackingWith(t *testing.T, workers int) *trackingBundle {
	t.Helper()
	b := setup(t)
	box, err := secret.New(strings.Repeat("k", 40))
	require.NoError(t, err)
	res, err := identity.New(b.ctx, b.db, identity.DefaultConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(res.Close)
	pipe, err := ingest.NewPipeline(b.ctx, b.db, res, nil)
	require.NoError(t, err)
	tb := &trackingBundle{bundle: b, tracking: &Tracking{Signer: box, BaseURL: "https://cairn.example"}, pipe: pipe}
	h := &TrackingHandler{DB: b.db, Tracking: tb.tracking, Workers: workers, Record: func(ctx context.Context, m wire.Message) (bool, error) {
		r, err := pipe.Submit(ctx, []wire.Message{m}, "email-tracking")
		return err == nil && r.Dropped == 0, err
	}}
	tb.handler = h
	tb.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		tb.srv.Close()
		h.Close()
		require.NoError(t, pipe.Close())
	})
	tb.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return tb
}

// person stores a customer through the ingest path (identify with userId and email) and
// returns their id.
func (tb *trackingBundle) person(t *testing.T, userID string) uuid.UUID {
	t.Helper()
	_, err := tb.pipe.Submit(tb.ctx, []wire.Message{{Type: wire.TypeIdentify, UserID: userID,
		Traits: json.RawMessage(`{"email":"` + userID + `@example.com"}`)}}, "test")
	require.NoError(t, err)
	var id uuid.UUID
	require.NoError(t, tb.db.QueryRowContext(tb.ctx, `SELECT customer_id FROM identities WHERE type = 'user_id' AND value = $1`, userID).Scan(&id))
	return id
}

// get requests a path of the tracking server (relative to its base URL) with a user agent.
func (tb *trackingBundle) get(t *testing.T, path, ua string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(tb.ctx, http.MethodGet, tb.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", ua)
	resp, err := tb.client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// local turns a tracking URL built on the public base URL into a path of the test server.
func local(u string) string { return strings.TrimPrefix(u, "https://cairn.example") }

func (tb *trackingBundle) interactions(t *testing.T, event string, campaignID uuid.UUID) []map[string]any {
	t.Helper()
	rows, err := tb.db.QueryContext(tb.ctx, `SELECT customer_id, channel, properties FROM interactions
		WHERE event = $1 AND properties ->> 'campaign_id' = $2`, event, campaignID.String())
	require.NoError(t, err)
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var cust uuid.UUID
		var channel string
		var props []byte
		require.NoError(t, rows.Scan(&cust, &channel, &props))
		m := map[string]any{}
		require.NoError(t, json.Unmarshal(props, &m))
		m["customer"], m["channel"] = cust, channel
		out = append(out, m)
	}
	require.NoError(t, rows.Err())
	return out
}

const browserUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"

func TestTrackingClick(t *testing.T) {
	t.Parallel()
	tb := setupTracking(t)
	cust := tb.person(t, "click-user")
	campA, campB := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	target := "https://shop.example/sale?x=1&y=%C3%A9#top"
	linkA, err := tb.tracking.LinkQuery(campA, target)
	require.NoError(t, err)
	linkB, err := tb.tracking.LinkQuery(campB, "https://evil.example/")
	require.NoError(t, err)
	clickA := local(tb.tracking.Fields(campA, cust)[FieldClick])
	clickB := local(tb.tracking.Fields(campB, cust)[FieldClick])
	tokA := tb.tracking.Token(campA, cust)
	altered := []byte(tokA)
	altered[5] ^= 1

	bad := map[string]string{
		"altered token":        "/t/c/" + string(altered) + linkA,
		"truncated token":      "/t/c/" + tokA[:len(tokA)-3] + linkA,
		"payload only":         "/t/c/" + tokA[:strings.IndexByte(tokA, '.')] + linkA,
		"other-campaign link":  clickA + linkB,
		"other-campaign token": clickB + linkA,
		"altered target":       clickA + strings.Replace(linkA, "sale", "sal3", 1),
		"missing signature":    clickA + "?u=" + url.QueryEscape(target),
		"unsigned":             "/t/c/abc.def?u=" + url.QueryEscape(target) + "&l=abc",
		"no query":             clickA,
	}
	for name, path := range bad {
		t.Run(name, func(t *testing.T) {
			resp := tb.get(t, path, browserUA)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Empty(t, resp.Header.Get("Location"))
		})
	}
	require.Empty(t, tb.interactions(t, EventClicked, campA))
	require.Empty(t, tb.interactions(t, EventClicked, campB))

	resp := tb.get(t, clickA+linkA, browserUA)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, target, resp.Header.Get("Location"))
	got := tb.interactions(t, EventClicked, campA)
	require.Len(t, got, 1)
	require.Equal(t, cust, got[0]["customer"])
	require.Equal(t, "email", got[0]["channel"])
	require.Equal(t, target, got[0]["url"])
	require.Equal(t, false, got[0]["machine"])
}

// With workers, the answer does not wait for the commit; Close records what is queued.
func TestTrackingAsync(t *testing.T) {
	t.Parallel()
	tb := setupTrackingWith(t, 2)
	cust := tb.person(t, "async-user")
	camp := uuid.Must(uuid.NewV7())
	f := tb.tracking.Fields(camp, cust)
	link, err := tb.tracking.LinkQuery(camp, "https://shop.example/x")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, tb.get(t, local(f[FieldOpen]), browserUA).StatusCode)
	resp := tb.get(t, local(f[FieldClick])+link, browserUA)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "https://shop.example/x", resp.Header.Get("Location"))
	require.Equal(t, http.StatusBadRequest, tb.get(t, local(f[FieldClick])+"?u=https%3A%2F%2Fevil.example%2F&l=x", browserUA).StatusCode)
	tb.srv.Close()
	tb.handler.Close()
	require.Len(t, tb.interactions(t, EventOpened, camp), 1)
	require.Len(t, tb.interactions(t, EventClicked, camp), 1)
}

func TestTrackingOpen(t *testing.T) {
	t.Parallel()
	tb := setupTracking(t)
	cust := tb.person(t, "open-user")
	camp := uuid.Must(uuid.NewV7())
	open := local(tb.tracking.Fields(camp, cust)[FieldOpen])

	resp := tb.get(t, open, browserUA)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/gif", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, gif, body)

	resp = tb.get(t, open, appleMPP) // Apple Mail Privacy Protection's proxy
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := tb.interactions(t, EventOpened, camp)
	require.Len(t, got, 2)
	machine := map[bool]int{}
	for _, g := range got {
		require.Equal(t, cust, g["customer"])
		machine[g["machine"].(bool)]++
	}
	require.Equal(t, map[bool]int{false: 1, true: 1}, machine)

	resp = tb.get(t, strings.TrimSuffix(open, ".gif"), browserUA)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestTrackingDeniedConsent(t *testing.T) {
	t.Parallel()
	tb := setupTracking(t)
	cust := tb.person(t, "private-user")
	tb.exec(t, `INSERT INTO consents (id, customer_id, purpose, granted, recorded_at) VALUES ($1, $2, 'email_tracking', true, now() - interval '1 day')`, uuid.Must(uuid.NewV7()), cust)
	tb.exec(t, `INSERT INTO consents (id, customer_id, purpose, granted, recorded_at) VALUES ($1, $2, 'email_tracking', false, now())`, uuid.Must(uuid.NewV7()), cust)
	camp := uuid.Must(uuid.NewV7())
	f := tb.tracking.Fields(camp, cust)
	link, err := tb.tracking.LinkQuery(camp, "https://shop.example/")
	require.NoError(t, err)

	require.Equal(t, http.StatusOK, tb.get(t, local(f[FieldOpen]), browserUA).StatusCode)
	resp := tb.get(t, local(f[FieldClick])+link, browserUA)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "https://shop.example/", resp.Header.Get("Location"))

	require.Empty(t, tb.interactions(t, EventOpened, camp))
	require.Empty(t, tb.interactions(t, EventClicked, camp))
	var n int
	require.NoError(t, tb.db.QueryRowContext(tb.ctx, `SELECT count(*) FROM interactions WHERE customer_id = $1 AND channel = 'email'`, cust).Scan(&n))
	require.Zero(t, n)
	rows, err := tb.db.QueryContext(tb.ctx, `SELECT kind, machine, count FROM campaign_tracking_counts WHERE campaign_id = $1 ORDER BY kind`, camp)
	require.NoError(t, err)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var kind string
		var machine bool
		var c int
		require.NoError(t, rows.Scan(&kind, &machine, &c))
		got = append(got, kind+":"+map[bool]string{true: "machine", false: "human"}[machine]+":"+string(rune('0'+c)))
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"click:human:1", "open:human:1"}, got)
}

func TestMachineAgent(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]bool{
		browserUA: false,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148": false,
		"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)":                     false,
		appleMPP: true,
		"":       true,
		"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html": true,
		"Barracuda Sentinel (EE)": true,
		"python-requests/2.31.0":  true,
	} {
		t.Run(ua, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, MachineAgent(ua))
		})
	}
}

// TestTrackingAfterClose serves an open after the handler's queue closed (a request still in
// flight when shutdown's drain timed out): it is recorded in the request, not sent on the closed
// queue (which panicked).
func TestTrackingAfterClose(t *testing.T) {
	t.Parallel()
	tb := setupTrackingWith(t, 2)
	cust := tb.person(t, "late-user")
	camp := uuid.Must(uuid.NewV7())
	f := tb.tracking.Fields(camp, cust)
	tb.handler.Close()
	rec := httptest.NewRecorder()
	tb.handler.ServeHTTP(rec, httptest.NewRequestWithContext(tb.ctx, http.MethodGet, local(f[FieldOpen]), nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Len(t, tb.interactions(t, EventOpened, camp), 1)
}
