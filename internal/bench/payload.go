package bench

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"time"
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

	w := jw{b: dst}
	w.obj()
	w.kstr("type", typ)
	w.key("messageId")
	w.b = append(w.b, '"')
	w.b = appendUUID4(w.b, p.r)
	w.b = append(w.b, '"')
	w.comma = true
	if !serverSide {
		w.kstr("anonymousId", p.anonymousID(k))
	}
	if withUser {
		w.kstr("userId", p.userID(k))
	}
	w.kstr("timestamp", ts.Format(time.RFC3339Nano))
	switch typ {
	case "identify":
		w.key("traits")
		w.obj()
		w.kstr("email", "bench."+p.run+"."+strconv.Itoa(k)+"@example.com")
		w.kstr("name", "Bench Person "+strconv.Itoa(k))
		w.kstr("plan", benchPlans[k%len(benchPlans)])
		w.kint("age", int64(18+k%60))
		w.end()
	case "page":
		path := benchPages[p.r.IntN(len(benchPages))]
		w.kstr("name", "Shop")
		w.key("properties")
		w.obj()
		w.kstr("path", path)
		w.kstr("url", "https://shop.example.com"+path)
		w.kstr("title", "Cairn Shop")
		w.kstr("referrer", "https://www.google.com/")
		w.end()
	default:
		ev := benchEvents[p.r.IntN(len(benchEvents))]
		w.kstr("event", ev)
		w.key("properties")
		w.obj()
		w.kstr("product_id", "p-"+strconv.Itoa(1000+p.r.IntN(400)))
		w.kstr("currency", "EUR")
		price := float64(500+p.r.IntN(9500)) / 100
		if ev == "Order Completed" {
			w.kstr("order_id", "ord-"+p.run+"-"+strconv.FormatUint(p.r.Uint64()>>16, 36))
			w.knum("revenue", price*2)
			w.knum("total", price*2+4.95)
		} else {
			w.knum("price", price)
		}
		w.end()
	}
	w.key("context")
	w.obj()
	if serverSide {
		w.key("library")
		w.obj()
		w.kstr("name", "analytics-go")
		w.kstr("version", "3.3.0")
		w.end()
	} else {
		w.kstr("ip", "203.0."+strconv.Itoa(k%256)+"."+strconv.Itoa(k%251))
		w.key("library")
		w.obj()
		w.kstr("name", "analytics.js")
		w.kstr("version", "5.2.1")
		w.end()
		w.kstr("locale", "en-US")
		w.kstr("userAgent", benchUserAgent)
	}
	w.end()
	w.kstr("originalTimestamp", ts.Format(time.RFC3339Nano))
	w.kstr("sentAt", now.Format(time.RFC3339Nano))
	w.end()
	return w.b
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
	binary.BigEndian.PutUint64(u[:8], mix64(h^uint64(k)))
	binary.BigEndian.PutUint64(u[8:], mix64(h+uint64(k)*0x9e3779b97f4a7c15))
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return string(appendUUID(nil, u))
}

func (p *Payloads) userID(k int) string { return "user-" + p.run + "-" + strconv.Itoa(k) }

func appendUUID4(dst []byte, r *rand.Rand) []byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], r.Uint64())
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return appendUUID(dst, u)
}

func appendUUID(dst []byte, u [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0x0f])
	}
	return dst
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// jw writes JSON whose strings need no escaping (the generator's own vocabulary).
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
}
func (w *jw) obj() { w.sep(); w.b = append(w.b, '{'); w.comma = false }
func (w *jw) end() { w.b = append(w.b, '}'); w.comma = true }
func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	w.comma = false
}
func (w *jw) kstr(k, v string) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
	w.comma = true
}
func (w *jw) knum(k string, v float64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
	w.comma = true
}
func (w *jw) kint(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
	w.comma = true
}
