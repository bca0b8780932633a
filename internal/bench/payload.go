package bench

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cairn-cdp/cairn/internal/pgcopy"
	"github.com/cairn-cdp/cairn/internal/seed"
)

// Payloads makes Segment Spec messages for a population of simulated people: each has a fixed
// anonymousId (their browser) and, for most, a userId and an email. Messages mix anonymous
// browsing, identified events, identifies that link the two (with traits.email), and
// server-side events that carry only the userId, so identity resolution creates, finds and
// merges profiles as it would under real traffic. A Payloads is not safe for concurrent use:
// give each client its own (same run id, different stream).
type Payloads struct {
	r      *rand.Rand
	run    string // makes this run's people new to the database
	people int
	now    func() time.Time
	buf    []byte
}

// NewPayloads returns a generator over people simulated people (ids scoped by run), drawing
// from the random stream (seed, stream).
func NewPayloads(run string, people int, seed, stream uint64) *Payloads {
	return &Payloads{r: rand.New(rand.NewPCG(seed, stream)), run: run, people: max(people, 1), now: time.Now}
}

var (
	benchPages  = []string{"/", "/collections/new", "/collections/sale", "/search", "/cart", "/account", "/help/shipping"}
	benchEvents = []string{"Product Viewed", "Product Viewed", "Added to Cart", "Product List Viewed", "Checkout Started", "Order Completed"}
	benchPlans  = []string{"free", "free", "starter", "pro", "enterprise"}
)

const benchUserAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Version/17.5 Safari/605.1.15"

// person picks someone, skewed towards a core of regulars.
func (p *Payloads) person() int {
	x := p.r.Float64()
	return int(x * x * float64(p.people))
}

// Message appends one JSON message (identify, page or track) to dst.
func (p *Payloads) Message(dst []byte) []byte { return p.message(dst, false) }

func (p *Payloads) message(dst []byte, trackOnly bool) []byte {
	k := p.person()
	identified := k%10 < 7 // 70% of people have an account
	x := p.r.Float64()
	typ := "track"
	switch {
	case trackOnly:
	case identified && x < 0.08:
		typ = "identify"
	case x < 0.40:
		typ = "page"
	}
	withUser := identified && (typ == "identify" || p.r.Float64() < 0.6)
	serverSide := withUser && typ == "track" && p.r.Float64() < 0.1

	now := p.now().UTC()
	ts := now.Add(-time.Duration(p.r.IntN(2000)) * time.Millisecond)

	w := pgcopy.JSON{B: dst}
	w.Obj()
	w.Str("type", typ)
	w.Key("messageId")
	w.Value(func(b []byte) []byte {
		b = append(b, '"')
		b = pgcopy.AppendUUID(b, seed.UUID4(p.r))
		return append(b, '"')
	})
	if !serverSide {
		w.Str("anonymousId", p.anonymousID(k))
	}
	if withUser {
		w.Str("userId", p.userID(k))
	}
	w.Str("timestamp", ts.Format(time.RFC3339Nano))
	switch typ {
	case "identify":
		w.Key("traits")
		w.Obj()
		w.Str("email", "bench."+p.run+"."+strconv.Itoa(k)+"@example.com")
		w.Str("name", "Bench Person "+strconv.Itoa(k))
		w.Str("plan", benchPlans[k%len(benchPlans)])
		w.Int("age", int64(18+k%60))
		w.End()
	case "page":
		path := benchPages[p.r.IntN(len(benchPages))]
		w.Str("name", "Shop")
		w.Key("properties")
		w.Obj()
		w.Str("path", path)
		w.Str("url", "https://shop.example.com"+path)
		w.Str("title", "Cairn Shop")
		w.Str("referrer", "https://www.google.com/")
		w.End()
	default:
		ev := benchEvents[p.r.IntN(len(benchEvents))]
		w.Str("event", ev)
		w.Key("properties")
		w.Obj()
		w.Str("product_id", "p-"+strconv.Itoa(1000+p.r.IntN(400)))
		w.Str("currency", "EUR")
		price := float64(500+p.r.IntN(9500)) / 100
		if ev == "Order Completed" {
			w.Str("order_id", "ord-"+p.run+"-"+strconv.FormatUint(p.r.Uint64()>>16, 36))
			w.Num("revenue", price*2)
			w.Num("total", price*2+4.95)
		} else {
			w.Num("price", price)
		}
		w.End()
	}
	w.Key("context")
	w.Obj()
	if serverSide {
		w.Key("library")
		w.Obj()
		w.Str("name", "analytics-go")
		w.Str("version", "3.3.0")
		w.End()
	} else {
		w.Str("ip", "203.0."+strconv.Itoa(k%256)+"."+strconv.Itoa(k%251))
		w.Key("library")
		w.Obj()
		w.Str("name", "analytics.js")
		w.Str("version", "5.2.1")
		w.End()
		w.Str("locale", "en-US")
		w.Str("userAgent", benchUserAgent)
	}
	w.End()
	w.Str("originalTimestamp", ts.Format(time.RFC3339Nano))
	w.Str("sentAt", now.Format(time.RFC3339Nano))
	w.End()
	return w.B
}

// Batch returns a /v1/batch body of n messages. The slice is reused by the next call.
func (p *Payloads) Batch(n int) []byte {
	b := append(p.buf[:0], `{"batch":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.Message(b)
	}
	b = append(b, `],"sentAt":"`...)
	b = p.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	p.buf = b
	return b
}

// Track returns one track message, a /v1/track body. The slice is reused by the next call.
func (p *Payloads) Track() []byte {
	p.buf = p.message(p.buf[:0], true)
	return p.buf
}

func (p *Payloads) anonymousID(k int) string {
	// A UUID per (run, person), as analytics.js makes one per browser.
	var u [16]byte
	h := fnv64(p.run)
	binary.BigEndian.PutUint64(u[:8], seed.Mix(h^uint64(k)))
	binary.BigEndian.PutUint64(u[8:], seed.Mix(h+uint64(k)*0x9e3779b97f4a7c15))
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return string(pgcopy.AppendUUID(nil, u))
}

func (p *Payloads) userID(k int) string { return "user-" + p.run + "-" + strconv.Itoa(k) }

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
