package seed

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

// One synthetic interaction: its kind, name, properties, context and revenue.

// event writes one interaction.
func (g *generator) event(c *chunk, r *rand.Rand, customerID [16]byte, dev *device, kind int, t int64,
	fn, ln, email, country, plan string, age int, hasPhone bool, phone string) {
	b := &c.interactions
	p := &c.s.js
	p.Reset()
	var revenue float64
	channel := "web"
	if dev.app {
		channel = "app"
	}
	kindName, eventName := "track", ""
	prod := &g.products[r.IntN(len(g.products))]
	camp := &campaigns[r.IntN(len(campaigns))]

	p.Obj()
	switch kind {
	case evPage:
		if dev.app {
			kindName, eventName = "screen", "Screen Viewed"
			p.Str("name", appScreens[r.IntN(len(appScreens))])
		} else {
			kindName, eventName = "page", "Page Viewed"
			pg := webPages[r.IntN(len(webPages))]
			p.Str("name", pg.title)
			p.Str("path", pg.path)
			p.Str("referrer", referrers[r.IntN(len(referrers))])
			p.Str("title", pg.title+" | Cairn Shop")
			p.Str("url", "https://shop.example.com"+pg.path)
		}
	case evProductViewed, evAddedToCart:
		eventName = "Product Viewed"
		if kind == evAddedToCart {
			eventName = "Added to Cart"
		}
		p.Str("category", prod.category)
		p.Str("currency", "EUR")
		p.Str("name", prod.name)
		p.Num("price", prod.price)
		p.Str("product_id", prod.id)
		if kind == evAddedToCart {
			p.Int("quantity", int64(1+r.IntN(2)))
		}
	case evOrderCompleted:
		eventName = "Order Completed"
		items := 1 + r.IntN(3)
		p.Str("currency", "EUR")
		orderID := UUID4(r)
		p.Str("order_id", "ord_"+strconv.FormatUint(binary.BigEndian.Uint64(orderID[:8]), 36))
		p.Key("products")
		p.Arr()
		for range items {
			it := &g.products[r.IntN(len(g.products))]
			q := 1 + r.IntN(2)
			revenue += it.price * float64(q)
			p.Obj()
			p.Num("price", it.price)
			p.Str("product_id", it.id)
			p.Int("quantity", int64(q))
			p.End()
		}
		p.EndArr()
		revenue = math.Round(revenue*100) / 100
		p.Num("revenue", revenue)
		shipping := 0.0
		if revenue < 50 {
			shipping = 4.95
		}
		p.Num("shipping", shipping)
		p.Num("total", math.Round((revenue+shipping)*100)/100)
	case evEmailOpened, evEmailClicked:
		channel = "email"
		eventName = "Email Opened"
		if kind == evEmailClicked {
			eventName = "Email Link Clicked"
		}
		p.Str("campaign_id", camp.id)
		p.Str("campaign_name", camp.name)
		p.Str("email_subject", camp.subject)
		if kind == evEmailClicked {
			p.Str("link_url", "https://shop.example.com/collections/sale?utm_campaign="+camp.id)
		}
	case evIdentify:
		kindName = "identify"
		p.Int("age", int64(age))
		p.Str("country", country)
		p.Str("created_at", usTime(t).Format(time.RFC3339))
		p.Str("email", email)
		p.Str("first_name", title(fn))
		p.Str("last_name", title(ln))
		p.Str("name", title(fn)+" "+title(ln))
		if hasPhone {
			p.Str("phone", phone)
		}
		p.Str("plan", plan)
	}
	p.End()

	b.UUID(UUID7(t/usPerMs, r))
	b.Text(kindName)
	if eventName == "" {
		b.Null()
	} else {
		b.Text(eventName)
	}
	b.TextBytes(p.B)

	// Context, minimised as ingest stores it (IP truncated to /24).
	p.Reset()
	p.Obj()
	switch {
	case channel == "email":
		p.Key("campaign")
		p.Obj()
		p.Str("medium", "email")
		p.Str("name", camp.name)
		p.Str("source", "cairn")
		p.End()
		p.Key("library")
		p.Obj()
		p.Str("name", "cairn-email-tracking")
		p.End()
	case dev.app:
		m := appDevices[dev.model]
		p.Key("app")
		p.Obj()
		p.Str("build", "341")
		p.Str("name", "Cairn Shop")
		p.Str("version", "3.4.1")
		p.End()
		p.Key("device")
		p.Obj()
		var buf [36]byte
		p.Str("id", upperUUIDInto(buf[:0], dev.deviceID))
		p.Str("manufacturer", m.manufacturer)
		p.Str("model", m.model)
		p.Str("type", m.kind)
		p.End()
		p.Str("ip", ip(dev))
		p.Key("library")
		p.Obj()
		if m.kind == "ios" {
			p.Str("name", "analytics-ios")
		} else {
			p.Str("name", "analytics-android")
		}
		p.Str("version", "4.1.8")
		p.End()
		p.Key("os")
		p.Obj()
		p.Str("name", m.osName)
		p.Str("version", m.osVersion)
		p.End()
	default:
		p.Str("ip", ip(dev))
		p.Key("library")
		p.Obj()
		p.Str("name", "analytics.js")
		p.Str("version", "5.2.1")
		p.End()
		p.Str("locale", locales[country])
		p.Str("userAgent", userAgents[dev.ua])
	}
	p.End()
	b.TextBytes(p.B)

	delay := int64(20*usPerMs) + r.Int64N(2*usPerSec)
	if dev.app && channel == "app" {
		delay += r.Int64N(90 * usPerSec) // mobile SDKs flush in batches
	}
	b.Time(usTime(t))
	b.Time(usTime(t + delay))
	var mid [36]byte
	b.Text(string(pgcopy.AppendUUID(mid[:0], UUID4(r))))
	if kind == evOrderCompleted {
		b.Float(revenue, 2)
	} else {
		b.Null()
	}
	b.Text(g.source)
	b.Text(channel)
	b.UUID(customerID)
	b.EndRow()
}

func ip(d *device) string {
	return strconv.Itoa(d.ipA) + "." + strconv.Itoa(d.ipB) + "." + strconv.Itoa((d.ipA*7+d.ipB)%256) + ".0"
}
