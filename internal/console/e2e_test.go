package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/schematype"
)

// shopper is a seeded customer: a plan, orders, and a newer last event.
type shopper struct {
	email  string
	plan   string
	orders int
}

// seed creates the customers with their email identity, `orders` Order Completed events in the
// last days and, newest of all, one Checkout Started; it returns their ids by email.
func seed(t *testing.T, s *server, shoppers []shopper) map[string]uuid.UUID {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	ids := map[string]uuid.UUID{}
	for _, sh := range shoppers {
		c, err := s.client.Customer.Create().SetEmail(sh.email).SetTraits(schematype.MustObject(map[string]any{"plan": sh.plan, "name": sh.email})).Save(ctx)
		require.NoError(t, err)
		_, err = s.client.Identity.Create().SetType("email").SetValue(sh.email).SetCustomerID(c.ID).Save(ctx)
		require.NoError(t, err)
		for i := range sh.orders {
			_, err := s.client.Interaction.Create().SetKind(interaction.KindTrack).SetEvent("Order Completed").
				SetProperties(map[string]any{"revenue": 20 + i}).SetMessageID(uuid.NewString()).
				SetOccurredAt(now.Add(-time.Duration(i+1) * 24 * time.Hour)).SetCustomerID(c.ID).Save(ctx)
			require.NoError(t, err)
		}
		_, err = s.client.Interaction.Create().SetKind(interaction.KindTrack).SetEvent("Checkout Started").
			SetMessageID(uuid.NewString()).SetOccurredAt(now.Add(-time.Minute)).SetCustomerID(c.ID).Save(ctx)
		require.NoError(t, err)
		ids[sh.email] = c.ID
	}
	return ids
}

var shoppers = []shopper{
	{"ada@example.com", "pro", 3},
	{"bob@example.com", "pro", 1},
	{"cy@example.com", "free", 4},
	{"dee@example.com", "pro", 5},
	{"eve@example.com", "free", 0},
}

// proWithThreeOrders is the two-condition rule the builder test builds.
var proWithThreeOrders = map[string]any{"and": []any{
	map[string]any{"trait": map[string]any{"key": "plan", "op": "EQ", "value": "pro"}},
	map[string]any{"event": map[string]any{"name": "Order Completed", "withinDays": 30, "count": map[string]any{"op": "GTE", "value": 3}}},
}}

func TestBuildPreviewSaveComputeSegment(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	seed(t, s, shoppers)
	b := newTab(t, s)

	// First load, cold cache: bytes transferred (compressed) and time to the sign-in form.
	b.do(t, 20*time.Second, chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS("#apikey")))
	type perfFigures struct {
		Transfer, Decoded, Resources, DOMInteractive, Interactive float64
	}
	perf := eval[perfFigures](t, b, `(() => {
		const nav = performance.getEntriesByType('navigation')[0], res = performance.getEntriesByType('resource');
		const mark = performance.getEntriesByName('cairn-interactive')[0];
		return { Transfer: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
			Decoded: nav.decodedBodySize + res.reduce((a, r) => a + r.decodedBodySize, 0),
			Resources: res.length, DOMInteractive: nav.domInteractive, Interactive: mark ? mark.startTime : -1 };
	})()`)
	t.Logf("first load: %.0f bytes transferred (%.0f decoded) in %d requests; DOM interactive %.0f ms, console interactive %.0f ms",
		perf.Transfer, perf.Decoded, int(perf.Resources)+1, perf.DOMInteractive, perf.Interactive)

	b.signIn(t, s)
	b.do(t, 20*time.Second,
		chromedp.Navigate(s.url+"/#/segments/new"),
		chromedp.WaitVisible(chromedp.CSS(`.leaf[data-kind="trait"]`)),
		// Condition 1: traits.plan = pro (typed, as a user would).
		chromedp.SendKeys(chromedp.CSS(`.leaf[data-kind="trait"] input[list]`), "plan"),
		// plan > pro: the API refuses it, and the error shows on the trait's node.
		setValue(`.leaf[data-kind="trait"] select[id$="-op"]`, "GT"),
		chromedp.SendKeys(chromedp.CSS(`.leaf[data-kind="trait"] input[id$="-value"]`), "pro"),
		chromedp.WaitVisible(chromedp.CSS(`.leaf[data-kind="trait"].has-error .node-error`)),
		setValue(`.leaf[data-kind="trait"] select[id$="-op"]`, "EQ"),
		chromedp.WaitNotPresent(chromedp.CSS(`.leaf[data-kind="trait"].has-error`)),
		// Condition 2: Order Completed at least 3 times in the last 30 days.
		setValue(`.add select`, "event"),
		chromedp.Click(chromedp.CSS(`.add-condition`)),
		chromedp.WaitVisible(chromedp.CSS(`.leaf[data-kind="event"]`)),
		chromedp.SendKeys(chromedp.CSS(`.leaf[data-kind="event"] input[id$="-name"]`), "Order Completed"),
		setValue(`.leaf[data-kind="event"] select[id$="-countop"]`, "GTE"),
		chromedp.WaitVisible(chromedp.CSS(`.leaf[data-kind="event"] input[id$="-count"]`)),
		setValue(`.leaf[data-kind="event"] input[id$="-count"]`, "3"),
		chromedp.SendKeys(chromedp.CSS(`.leaf[data-kind="event"] input[id$="-days"]`), "30"),
	)

	// The preview on screen settles on the API's own answer for the same rule.
	data := s.gql(t, `query($rule: SegmentRuleInput!) { segmentPreview(rule: $rule) { count } }`, map[string]any{"rule": proWithThreeOrders})
	apiCount := int(data["segmentPreview"].(map[string]any)["count"].(float64))
	require.Equal(t, 2, apiCount) // ada and dee
	b.waitText(t, `#preview-count[data-state="ready"]`, strconv.Itoa(apiCount), 10*time.Second)

	// Why not, for the rule being built: bob is pro with one order.
	b.do(t, 20*time.Second,
		setValue("#why-customer", "bob@example.com"),
		chromedp.Click(chromedp.CSS(`section[aria-labelledby="why-h"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#explain-result[data-matches="false"] .explain-node.fail[data-path="rule.and[1]"]`)),
	)

	// Save, compute, see the members.
	b.do(t, 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#segment-name"), "Loyal pros"),
		chromedp.Click(chromedp.CSS("#save-segment")),
		chromedp.WaitVisible(chromedp.CSS("#compute")),
	)
	hash := eval[string](t, b, `location.hash`)
	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS("#compute")))
	require.Regexp(t, `^#/segments/[0-9a-f-]{36}$`, hash)
	b.waitText(t, "#job-state strong", "completed", 30*time.Second)
	b.waitText(t, "#member-count", "2", 10*time.Second)
	b.do(t, 10*time.Second, chromedp.WaitVisible(chromedp.CSS(`#segment-status`)))
	b.waitText(t, "#segment-status", "ready", 5*time.Second)

	// A member's profile shows their newest event first, and fits a phone's width.
	b.do(t, 20*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`table.members tbody a`)),
		chromedp.Click(chromedp.CSS(`table.members tbody a`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li:nth-child(2)`)),
	)
	first := eval[string](t, b, `document.querySelector('#timeline li:nth-child(1)').dataset.event`)
	second := eval[string](t, b, `document.querySelector('#timeline li:nth-child(2)').dataset.event`)
	require.Equal(t, "Checkout Started", first)
	require.Equal(t, "Order Completed", second)

	b.do(t, 10*time.Second, chromedp.EmulateViewport(390, 844), chromedp.Sleep(300*time.Millisecond))
	overflow := eval[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
	b.do(t, 10*time.Second, chromedp.EmulateViewport(1280, 800))
	require.False(t, overflow, "the profile page scrolls sideways at phone width")

	// The builder works from the keyboard: its controls are real buttons and fields.
	b.do(t, 20*time.Second,
		chromedp.Navigate(s.url+"/#/segments/new"),
		chromedp.WaitVisible(chromedp.CSS(`.leaf[data-kind="trait"]`)),
		chromedp.Focus(chromedp.CSS(`.add-condition`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`.children > li:nth-child(2) .leaf`)),
	)
	focused := eval[string](t, b, `document.activeElement.className`)
	require.Contains(t, focused, "add-condition")
}

func TestLiveEventsShowTrackedEvent(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	seed(t, s, shoppers[:1])
	b := newTab(t, s)
	b.signIn(t, s)
	b.do(t, 20*time.Second,
		chromedp.Navigate(s.url+"/#/live"),
		chromedp.WaitVisible(chromedp.CSS(`#live-events tbody tr`)), // the seeded events
	)

	name := "E2E Live " + uuid.NewString()[:8]
	body, err := json.Marshal(map[string]any{"userId": "live-user-1", "event": name, "properties": map[string]any{"plan": "pro"}})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/track", bytes.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(s.ingest, "")
	req.Header.Set("Content-Type", "application/json")
	sent := time.Now()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	// The bar: on the page within 2 s of being sent.
	b.do(t, 2*time.Second, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#live-events tr[data-event=%q]`, name))))
	t.Logf("tracked event shown after %s", time.Since(sent).Round(time.Millisecond))

	// Filtering by name keeps it and drops the others.
	b.do(t, 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#live-name"), "E2E Live"),
		chromedp.Sleep(1500*time.Millisecond),
	)
	rows := eval[int](t, b, `document.querySelectorAll('#live-events tbody tr').length`)
	require.Equal(t, 1, rows)
}

func TestWhyInAndWhyNot(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ids := seed(t, s, shoppers)
	data := s.gql(t, `mutation($in: CreateSegmentInput!) { createSegment(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "Loyal pros", "rule": proWithThreeOrders}})
	segID := data["createSegment"].(map[string]any)["id"].(string)
	waitMembers(t, s, segID, 2)

	b := newTab(t, s)
	b.signIn(t, s)

	// A member: the first "Why?" on the member list; every node holds.
	b.do(t, 20*time.Second,
		chromedp.Navigate(s.url+"/#/segments/"+segID),
		chromedp.WaitVisible(chromedp.CSS(`table.members button.why`)),
		chromedp.Click(chromedp.CSS(`table.members button.why`)),
		chromedp.WaitVisible(chromedp.CSS(`#explain-result[data-matches="true"]`)),
	)
	failing := eval[int](t, b, `document.querySelectorAll('#explain-result .explain-node.fail').length`)
	require.Zero(t, failing)

	// A non-member (pro, one order): the event count node is marked failing, the trait passes.
	b.do(t, 20*time.Second,
		setValue("#why-customer", "bob@example.com"),
		chromedp.Click(chromedp.CSS(`section[aria-labelledby="why-h"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#explain-result[data-matches="false"]`)),
	)
	eventFails := eval[bool](t, b, `!!document.querySelector('#explain-result .explain-node.fail[data-path="rule.and[1]"]')`)
	traitPasses := eval[bool](t, b, `!!document.querySelector('#explain-result .explain-node.pass[data-path="rule.and[0]"]')`)
	observed := eval[string](t, b, `document.querySelector('#explain-result [data-path="rule.and[1]"] > .observed').textContent`)
	require.True(t, eventFails)
	require.True(t, traitPasses)
	require.Contains(t, observed, "1 matching event in the last 30 days")

	// The profile page explains each of the customer's segments too.
	b.do(t, 20*time.Second,
		chromedp.Navigate(s.url+"/#/profiles/"+ids["ada@example.com"].String()),
		chromedp.WaitVisible(chromedp.CSS(`.profile-grid button.link`)),
		chromedp.Click(chromedp.CSS(`.profile-grid button.link`)),
		chromedp.WaitVisible(chromedp.CSS(`#explain-result[data-matches="true"]`)),
	)
}

func TestPlaygroundLoadsOffline(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	b := newTab(t, s) // blocks, and fails on, any request to another host

	// Not signed in: GraphiQL loads, says how to sign in, and asks nothing of the API.
	b.do(t, 30*time.Second,
		chromedp.Navigate(s.url+"/playground"),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-container`)),
		chromedp.WaitVisible(chromedp.CSS(`.cairn-note a[href="/"]`)),
	)

	// Signed in to the console in this tab: GraphiQL uses the key and loads the schema.
	b.signIn(t, s)
	b.do(t, 30*time.Second,
		chromedp.Navigate(s.url+"/playground"),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-container`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.cairn-note`)),
	)
	deadline := time.Now().Add(10 * time.Second)
	for eval[int](t, b, `performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/graphql')).length`) == 0 {
		require.True(t, time.Now().Before(deadline), "GraphiQL never asked the API for its schema")
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the introspection answer arrive (a 4xx would fail the test)
}

// waitMembers polls the segment (computed on creation by the server's workers) until it has n
// members.
func waitMembers(t *testing.T, s *server, segID string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data := s.gql(t, `query($id: ID!) { segment(id: $id) { memberCount lastComputedAt } }`, map[string]any{"id": segID})
		seg := data["segment"].(map[string]any)
		if seg["lastComputedAt"] != nil && int(seg["memberCount"].(float64)) == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "segment has %v members, want %d", seg["memberCount"], n)
		time.Sleep(200 * time.Millisecond)
	}
}
