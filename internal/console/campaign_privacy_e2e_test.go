package console_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/auth"
)

// receiver is a webhook destination on loopback that records the emails it was sent.
type receiver struct {
	mu     sync.Mutex
	emails []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var batch struct {
		Added []struct {
			Email string `json:"email"`
		} `json:"added"`
	}
	body, _ := io.ReadAll(req.Body)
	if json.Unmarshal(body, &batch) == nil {
		r.mu.Lock()
		for _, c := range batch.Added {
			r.emails = append(r.emails, c.Email)
		}
		r.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.emails...)
}

func TestCampaignsAndPrivacyPages(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	seed(t, s, shoppers)
	recv := &receiver{}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)

	// Setup through the API: pros (ada, bob, dee), of whom only ada consents to email.
	data := s.gql(t, `mutation($in: CreateSegmentInput!) { createSegment(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Pros", "rule": map[string]any{"trait": map[string]any{"key": "plan", "op": "EQ", "value": "pro"}}}})
	segID := data["createSegment"].(map[string]any)["id"].(string)
	waitMembers(t, s, segID, 3)
	s.gql(t, `mutation($in: RecordConsentInput!) { recordConsent(input: $in) { granted } }`, map[string]any{"in": map[string]any{
		"identity": map[string]any{"type": "email", "value": "ada@example.com"}, "purpose": "email_marketing", "granted": true}})
	const hookSecret = "e2e-webhook-secret-0123456789abcdef"
	data = s.gql(t, `mutation($in: CreateDestinationInput!) { createDestination(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"kind": "webhook", "name": "Local hook", "config": map[string]any{"url": hook.URL + "/hook", "secret": hookSecret}}})
	destID := data["createDestination"].(map[string]any)["id"].(string)
	data = s.gql(t, `mutation($in: CreateCampaignInput!) { createCampaign(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Pro newsletter", "segmentId": segID, "destinationId": destID}})
	campID := data["createCampaign"].(map[string]any)["id"].(string)

	admin := s.newKey(t, "e2e admin", auth.ScopeAdmin)
	b := newTab(t, s)
	b.signInWith(t, s, admin)

	// The campaigns page lists the campaign and the destination, with a hint of its secret only.
	b.do(t, 20*time.Second,
		chromedp.Click(chromedp.CSS(`header.top a[href="#/campaigns"]`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#campaigns tr[data-id=%q]`, campID))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#destinations tr[data-id=%q] code.hint`, destID))),
	)
	hint := eval[string](t, b, fmt.Sprintf(`document.querySelector('#destinations tr[data-id=%q] code.hint').textContent`, destID))
	require.Equal(t, "…"+hookSecret[len(hookSecret)-4:], hint)
	require.False(t, eval[bool](t, b, fmt.Sprintf(`document.body.textContent.includes(%q)`, hookSecret)))

	// Run sync now: the job's state shows until it completes, then the sync is in the history.
	b.do(t, 20*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#campaigns tr[data-id=%q] a[href^="#/campaigns/"]`, campID))),
		chromedp.WaitVisible(chromedp.CSS(`#run-sync`)),
		chromedp.Click(chromedp.CSS(`#run-sync`)),
		chromedp.WaitVisible(chromedp.CSS(`#job-state`)),
	)
	b.waitText(t, "#job-state strong", "completed", 30*time.Second)
	b.do(t, 10*time.Second, chromedp.WaitVisible(chromedp.CSS(`#syncs tr[data-status="succeeded"]`)))
	require.Equal(t, []string{"ada@example.com"}, recv.got())

	// The schedule editor shows the server's validation error, then schedules; pause and resume.
	b.do(t, 20*time.Second,
		chromedp.Click(chromedp.CSS(`input[name="sched-kind"][value="cron"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sched-cron`)),
		setValue(`#sched-cron`, "every monday"),
		setValue(`#sched-tz`, "Europe/Paris"),
		chromedp.Click(chromedp.CSS(`#schedule-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#schedule-error`)),
		setValue(`#sched-cron`, "0 9 * * 1"),
		chromedp.Click(chromedp.CSS(`#schedule-form button[type="submit"]`)),
	)
	b.waitText(t, "#campaign-status", "scheduled", 10*time.Second)
	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#pause`)))
	b.waitText(t, "#campaign-status", "paused", 10*time.Second)
	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#resume`)))
	b.waitText(t, "#campaign-status", "scheduled", 10*time.Second)

	// The privacy page: request an export from the form; it is listed and completes.
	b.do(t, 20*time.Second,
		chromedp.Click(chromedp.CSS(`header.top a[href="#/privacy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#privacy-value`)),
		chromedp.SendKeys(chromedp.CSS(`#privacy-value`), "ada@example.com"),
		chromedp.Click(chromedp.CSS(`#request-export`)),
		chromedp.WaitVisible(chromedp.CSS(`#privacy-requests tr[data-kind="export"]`)),
	)
	b.do(t, 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`#privacy-requests tr[data-kind="export"][data-status="completed"]`)))

	// Erasure asks for confirmation before anything is requested.
	b.do(t, 10*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#privacy-value`), "bob@example.com"),
		chromedp.Click(chromedp.CSS(`#request-erasure`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-erasure`)),
	)
	require.Zero(t, eval[int](t, b, `document.querySelectorAll('#privacy-requests tr[data-kind="erase"]').length`))

	// The audit log (admin) lists what was done, newest first.
	b.do(t, 20*time.Second,
		chromedp.Click(chromedp.CSS(`header.top a[href="#/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#audit-events tbody tr`)),
	)

	// A read-only key sees campaigns but is not offered privacy or the audit log.
	ro := newTab(t, s)
	ro.signInWith(t, s, s.newKey(t, "e2e read-only", auth.ScopeRead))
	ro.do(t, 10*time.Second, chromedp.WaitVisible(chromedp.CSS(`header.top a[href="#/campaigns"]`)))
	links := eval[string](t, ro, `[...document.querySelectorAll('header.top nav a')].map((a) => a.getAttribute('href')).join(' ')`)
	require.NotContains(t, links, "#/privacy")
	require.NotContains(t, links, "#/audit")
	require.True(t, strings.Contains(links, "#/campaigns"), links)
}
