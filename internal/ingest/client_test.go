package ingest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
	"github.com/stretchr/testify/require"
)

// callback records what Segment's client says about each message.
type callback struct {
	mu       sync.Mutex
	ok       int
	failures []error
}

func (c *callback) Success(analytics.Message) { c.mu.Lock(); c.ok++; c.mu.Unlock() }
func (c *callback) Failure(_ analytics.Message, err error) {
	c.mu.Lock()
	c.failures = append(c.failures, err)
	c.mu.Unlock()
}

// TestSegmentGoClient sends through Segment's own Go library, pointed at Cairn.
func TestSegmentGoClient(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cb := &callback{}
	client, err := analytics.NewWithConfig(b.key, analytics.Config{
		Endpoint: b.srv.URL, BatchSize: 3, Interval: 50 * time.Millisecond, Callback: cb,
	})
	require.NoError(t, err)

	require.NoError(t, client.Enqueue(analytics.Track{AnonymousId: "sdk-anon", Event: "Signed Up"}))
	require.NoError(t, client.Enqueue(analytics.Identify{
		AnonymousId: "sdk-anon", UserId: "sdk-user",
		Traits: analytics.NewTraits().SetEmail("Grace@Example.com").SetName("Grace Hopper").SetPhone("+1 (415) 555-0100"),
	}))
	require.NoError(t, client.Enqueue(analytics.Track{UserId: "sdk-user", Event: "Order Completed",
		Properties: analytics.NewProperties().SetRevenue(99.5).SetCurrency("USD")}))
	require.NoError(t, client.Enqueue(analytics.Page{UserId: "sdk-user", Name: "Pricing"}))
	require.NoError(t, client.Enqueue(analytics.Group{UserId: "sdk-user", GroupId: "acme", Traits: analytics.NewTraits().SetName("Acme")}))
	require.NoError(t, client.Close()) // flushes

	require.Empty(t, cb.failures)
	require.Equal(t, 5, cb.ok)

	cust := b.customerOf(t, "user_id", "sdk-user")
	require.Equal(t, cust, b.customerOf(t, "anonymous_id", "sdk-anon"))
	require.Equal(t, cust, b.customerOf(t, "email", "grace@example.com"))
	require.Equal(t, cust, b.customerOf(t, "phone", "+14155550100"))
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1`, cust))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1 AND event = 'Order Completed' AND revenue = 99.5`, cust))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1 AND kind = 'page' AND event = 'Page Viewed' AND properties->>'name' = 'Pricing'`, cust))
	traits := b.traits(t, cust)
	require.Equal(t, "Grace Hopper", traits["name"])
	var email, phone, channel string
	require.NoError(t, b.db.QueryRow(`SELECT email, phone FROM customers WHERE id = $1`, cust).Scan(&email, &phone))
	require.Equal(t, "grace@example.com", email)
	require.Equal(t, "+14155550100", phone)
	require.NoError(t, b.db.QueryRow(`SELECT channel FROM interactions WHERE customer_id = $1 AND event = 'Signed Up'`, cust).Scan(&channel))
	require.Equal(t, "server", channel)
	var lib map[string]any
	var raw []byte
	require.NoError(t, b.db.QueryRow(`SELECT context->'library' FROM interactions WHERE customer_id = $1 AND event = 'Signed Up'`, cust).Scan(&raw))
	require.NoError(t, json.Unmarshal(raw, &lib))
	require.Equal(t, "analytics-go", lib["name"], "batch-level context reaches every message")
}

// browserPayload is an analytics.js (analytics-next) style session as a browser sends it: the
// write key in the body, text/plain, page then identify then track, with context.page,
// userAgent, campaign, and the client clock 2 hours fast (corrected via sentAt).
const browserPayload = `{
  "writeKey": "%s",
  "sentAt": "2026-03-01T14:00:05.000Z",
  "batch": [
    {"type": "page", "messageId": "ajs-next-1a", "anonymousId": "8f6c3b1e-77b2-4a8e-9a59-3f3f5f0e1a11",
     "name": "Spring Sale", "category": "Landing",
     "properties": {"path": "/sale", "referrer": "https://news.example.net/", "search": "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
                    "title": "Spring Sale – Shop", "url": "https://shop.example.com/sale?utm_source=newsletter&utm_medium=email&utm_campaign=spring"},
     "context": {"page": {"path": "/sale", "referrer": "https://news.example.net/", "title": "Spring Sale – Shop",
                          "url": "https://shop.example.com/sale?utm_source=newsletter&utm_medium=email&utm_campaign=spring"},
                 "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
                 "userAgentData": {"brands": [], "mobile": false, "platform": "macOS"},
                 "locale": "en-GB", "timezone": "Europe/London",
                 "library": {"name": "analytics.js", "version": "npm:next-1.66.0"},
                 "campaign": {"name": "spring", "source": "newsletter", "medium": "email"},
                 "ip": "81.2.69.160",
                 "consent": {"categoryPreferences": {"Analytics": true, "Advertising": true, "Functional": true}}},
     "integrations": {}, "originalTimestamp": "2026-03-01T14:00:00.000Z"},
    {"type": "identify", "messageId": "ajs-next-1b", "anonymousId": "8f6c3b1e-77b2-4a8e-9a59-3f3f5f0e1a11", "userId": "cust-2048",
     "traits": {"email": "ada@example.co.uk", "firstName": "Ada", "lastName": "Lovelace"},
     "context": {"page": {"path": "/sale", "url": "https://shop.example.com/sale"}, "userAgent": "Mozilla/5.0 (Macintosh)",
                 "library": {"name": "analytics.js", "version": "npm:next-1.66.0"}},
     "originalTimestamp": "2026-03-01T14:00:02.000Z"},
    {"type": "track", "messageId": "ajs-next-1c", "anonymousId": "8f6c3b1e-77b2-4a8e-9a59-3f3f5f0e1a11", "userId": "cust-2048",
     "event": "Product Added", "properties": {"product_id": "sku-7", "price": 49, "quantity": 1, "currency": "GBP"},
     "context": {"page": {"path": "/p/sku-7", "url": "https://shop.example.com/p/sku-7"}, "userAgent": "Mozilla/5.0 (Macintosh)",
                 "library": {"name": "analytics.js", "version": "npm:next-1.66.0"},
                 "campaign": {"name": "spring", "source": "newsletter", "medium": "email"}},
     "originalTimestamp": "2026-03-01T14:00:04.000Z"}
  ]
}`

func TestBrowserPayloadReplay(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(fmtPayload(browserPayload, b.key))
	resp := b.postWith(t, "/v1/batch", body, "", false)
	require.Equal(t, 200, resp.status, resp.body)

	cust := b.customerOf(t, "user_id", "cust-2048")
	require.Equal(t, cust, b.customerOf(t, "anonymous_id", "8f6c3b1e-77b2-4a8e-9a59-3f3f5f0e1a11"))
	require.Equal(t, cust, b.customerOf(t, "email", "ada@example.co.uk"))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1 AND channel = 'web'`, cust))
	require.Equal(t, "Ada", b.traits(t, cust)["firstName"])

	var ip, campaign, path, ua string
	var occurred, received time.Time
	require.NoError(t, b.db.QueryRow(`SELECT context->>'ip', context->'campaign'->>'source', context->'page'->>'path', context->>'userAgent', occurred_at, received_at
		FROM interactions WHERE message_id = 'ajs-next-1a'`).Scan(&ip, &campaign, &path, &ua, &occurred, &received))
	require.Equal(t, "81.2.69.0", ip)
	require.Equal(t, "newsletter", campaign)
	require.Equal(t, "/sale", path)
	require.Contains(t, ua, "Safari")
	// Clock skew: the event happened 5 s before the batch was sent, by the browser's clock.
	require.WithinDuration(t, received.Add(-5*time.Second), occurred, time.Millisecond)
	var event, name, category string
	require.NoError(t, b.db.QueryRow(`SELECT event, properties->>'name', properties->>'category' FROM interactions WHERE message_id = 'ajs-next-1a'`).Scan(&event, &name, &category))
	require.Equal(t, "Page Viewed", event)
	require.Equal(t, "Spring Sale", name)
	require.Equal(t, "Landing", category)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'analytics' AND granted`, cust))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'personalization' AND granted`, cust))

	// The browser's own short path and a retry of the same batch: stored once.
	resp = b.postWith(t, "/v1/b", body, "", false)
	require.Equal(t, 200, resp.status)
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM interactions`))
}

func fmtPayload(format, key string) string {
	out := []byte{}
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) && format[i+1] == 's' {
			out = append(out, key...)
			i++
			continue
		}
		out = append(out, format[i])
	}
	return string(out)
}
