package seed

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

// Every customer is generated from its own random stream, seeded from (seed, customer index),
// so chunks can be generated in parallel and in any order and still give the same data.

const (
	usPerMs  = int64(1000)
	usPerSec = 1000 * usPerMs
	usPerDay = 86400 * usPerSec

	// maxWeight caps how many times the average number of events one customer gets.
	maxWeight = 100
)

// generator turns (seed, customer index) into rows.
type generator struct {
	seed     uint64
	nowUS    int64 // end of the data window, unix microseconds
	spanUS   int64 // length of the window
	source   string
	counts   []int32 // events per customer
	products []product
}

type product struct {
	id, name, category string
	price              float64
}

func newGenerator(opts Options) *generator {
	g := &generator{
		seed:   opts.Seed,
		nowUS:  opts.Now.UnixMicro(),
		spanUS: opts.Span.Microseconds(),
		source: opts.Source,
	}
	g.counts = allocateEvents(opts.Seed, opts.Customers, opts.Events)
	r := rand.New(rand.NewPCG(Mix(opts.Seed), Mix(^uint64(0))))
	for i := range 400 {
		adj := productAdjectives[r.IntN(len(productAdjectives))]
		noun := productNouns[r.IntN(len(productNouns))]
		g.products = append(g.products, product{
			id:       "p-" + strconv.Itoa(1000+i),
			name:     adj + " " + noun.noun,
			category: noun.category,
			price:    math.Round((5+r.ExpFloat64()*45)*100) / 100,
		})
	}
	return g
}

// chunk is the rows of a run of consecutive customers, encoded for COPY.
type chunk struct {
	first, n                                      int
	customers, identities, consents, interactions pgcopy.Buffer
	s                                             scratch
}

func (c *chunk) reset(first, n int) {
	c.first, c.n = first, n
	c.customers.Reset()
	c.identities.Reset()
	c.consents.Reset()
	c.interactions.Reset()
}

// scratch is per-chunk reusable memory.
type scratch struct {
	times   []int64
	devices []device
	js      pgcopy.JSON
	traits  pgcopy.JSON
}

type device struct {
	app                 bool
	anonymousID         [16]byte
	deviceID            [16]byte
	ua, model, ipA, ipB int
	first, last         int64 // use, unix µs; first == 0: unused
}

// event kinds and names.
const (
	evPage = iota
	evProductViewed
	evAddedToCart
	evOrderCompleted
	evEmailOpened
	evEmailClicked
	evIdentify
)

func (g *generator) fill(c *chunk) {
	for i := c.first; i < c.first+c.n; i++ {
		g.customer(c, i)
	}
}

// customer writes customer i, its identities, consents and events.
func (g *generator) customer(c *chunk, i int) {
	r := customerRand(g.seed, i)
	w := weight(r.Float64())
	n := int(g.counts[i])
	s := &c.s

	identified := n >= 2 && r.Float64() < 0.3+0.55*math.Min(1, w/4)

	// Devices: most people use one, some two or three (phone app, laptop …).
	d := 1
	if r.Float64() < 0.22 {
		d++
		if r.Float64() < 0.3 {
			d++
		}
	}
	d = min(d, max(n, 1))
	s.devices = s.devices[:0]
	for k := range d {
		dev := device{app: r.Float64() < 0.2 || (k > 0 && r.Float64() < 0.5)}
		dev.anonymousID = UUID4(r)
		dev.deviceID = UUID4(r)
		dev.ua = r.IntN(len(userAgents))
		dev.model = r.IntN(len(appDevices))
		dev.ipA, dev.ipB = 1+r.IntN(223), r.IntN(256)
		s.devices = append(s.devices, dev)
	}

	// When: first seen skewed towards the recent past (the business grows); a bit over half are
	// still active, the others stopped at some point.
	startAge := int64(float64(g.spanUS) * math.Pow(r.Float64(), 1.6))
	var endAge int64
	if r.Float64() < 0.55 {
		endAge = int64(r.Float64() * float64(min(startAge, 21*usPerDay)))
	} else {
		endAge = int64(r.Float64() * float64(startAge))
	}
	start, end := g.nowUS-startAge, g.nowUS-endAge
	// Visits: events come in sessions of a few events seconds to minutes apart, the sessions
	// spread over the customer's active period.
	s.times = s.times[:0]
	for len(s.times) < n {
		t := start + int64(r.Float64()*float64(end-start))
		for k := 1 + int(r.ExpFloat64()*3); k > 0 && len(s.times) < n; k-- {
			s.times = append(s.times, min(t, g.nowUS))
			t += 5*usPerSec + r.Int64N(4*60*usPerSec)
		}
	}
	slices.Sort(s.times)
	first, last := start, start
	if n > 0 {
		first, last = s.times[0], s.times[n-1]
	}

	// Who: the traits an identify will carry.
	fn, ln := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	country := pick(r, countries)
	plan := pick(r, plans)
	age := min(max(int(36+r.NormFloat64()*12), 18), 85)
	hasPhone := r.Float64() < 0.2
	emailGranted := r.Float64() < 0.78
	analyticsDenied := n > 0 && r.Float64() < 0.06
	identifyAt := -1
	if identified {
		identifyAt = 1 + r.IntN(max(1, (n-1)*3/10))
	}
	// Plus-addressed with the seed and customer number: unique within a seed and across seeds.
	email := fn + "." + ln + "+" + strconv.FormatUint(g.seed, 36) + "-" + strconv.FormatInt(int64(i), 36) + "@" + emailDomains[i%len(emailDomains)]
	userID := UUID4(r)
	phone := "+4915" + pad9((int64(i)*7919+int64(Mix(g.seed)%1e9))%1e9) // a bijection of i: unique within a seed
	customerID := UUID7(first/usPerMs, r)

	// Events.
	for k := range n {
		t := s.times[k]
		devIdx := 0
		if d > 1 && r.Float64() >= 0.7 {
			devIdx = r.IntN(d)
		}
		forced := false
		for m := 1; m < d; m++ {
			if k == m*n/d {
				devIdx, forced = m, true
			}
		}
		kind := evPage
		x := r.Float64()
		switch {
		case k == identifyAt:
			kind = evIdentify
		case k < identifyAt || identifyAt < 0:
			switch {
			case x < 0.6:
				kind = evPage
			case x < 0.9:
				kind = evProductViewed
			default:
				kind = evAddedToCart
			}
		default:
			switch {
			case x < 0.38:
				kind = evPage
			case x < 0.60:
				kind = evProductViewed
			case x < 0.70:
				kind = evAddedToCart
			case x < 0.78:
				kind = evOrderCompleted
			case x < 0.93:
				kind = evEmailOpened
			default:
				kind = evEmailClicked
			}
			if (kind == evEmailOpened || kind == evEmailClicked) && (forced || !emailGranted) {
				kind = evPage
			}
		}
		dev := &s.devices[devIdx]
		isEmail := kind == evEmailOpened || kind == evEmailClicked
		if !isEmail {
			if dev.first == 0 {
				dev.first = t
			}
			dev.last = t
		}
		g.event(c, r, customerID, dev, kind, t, fn, ln, email, country, plan, age, hasPhone, phone)
	}

	// The customer.
	cb := &c.customers
	cb.UUID(customerID)
	cb.Time(usTime(first))
	cb.Time(usTime(last))
	tr, tt := &s.traits, &s.js
	tr.Reset()
	tt.Reset()
	tr.Obj()
	tt.Obj()
	if identified {
		at := usTime(s.times[identifyAt])
		tr.Int("age", int64(age))
		tr.Str("country", country)
		tr.Str("created_at", at.Format(time.RFC3339))
		tr.Str("email", email)
		tr.Str("first_name", title(fn))
		tr.Str("last_name", title(ln))
		tr.Str("name", title(fn)+" "+title(ln))
		if hasPhone {
			tr.Str("phone", phone)
		}
		tr.Str("plan", plan)
		keys := []string{"age", "country", "created_at", "email", "first_name", "last_name", "name", "plan"}
		if hasPhone {
			keys = append(keys, "phone")
		}
		ts := at.Format(time.RFC3339Nano)
		for _, key := range keys {
			tt.Str(key, ts)
		}
	}
	tr.End()
	tt.End()
	cb.TextBytes(tr.B)
	cb.TextBytes(tt.B)
	if identified {
		cb.Text(email)
	} else {
		cb.Null()
	}
	if identified && hasPhone {
		cb.Text(phone)
	} else {
		cb.Null()
	}
	cb.Time(usTime(first))
	cb.Time(usTime(last))
	cb.EndRow()

	// Identities.
	var buf [36]byte
	for k := range s.devices {
		dev := &s.devices[k]
		if dev.first == 0 {
			if k > 0 || n > 0 {
				continue // never used (its turn went to an email event)
			}
			dev.first, dev.last = first, last
		}
		g.identity(c, r, customerID, "anonymous_id", string(pgcopy.AppendUUID(buf[:0], dev.anonymousID)), dev.first, dev.last)
		if dev.app {
			g.identity(c, r, customerID, "device_id", upperUUID(dev.deviceID), dev.first, dev.last)
		}
	}
	if identified {
		from := s.times[identifyAt]
		g.identity(c, r, customerID, "user_id", string(pgcopy.AppendUUID(buf[:0], userID)), from, last)
		g.identity(c, r, customerID, "email", email, from, last)
		if hasPhone {
			g.identity(c, r, customerID, "phone", phone, from, last)
		}
	}

	// Consents: the cookie banner on the first visit; the signup form's marketing opt-in; a few
	// withdraw analytics consent after their last tracked event.
	if n > 0 {
		g.consent(c, r, customerID, "analytics", true, "web", `{"banner":"cookie-consent-v3"}`, first)
		if analyticsDenied {
			g.consent(c, r, customerID, "analytics", false, "web", `{"banner":"cookie-consent-v3","action":"withdraw"}`, last+60*usPerSec)
		}
	}
	if identified {
		g.consent(c, r, customerID, "email_marketing", emailGranted, "signup_form", `{"form":"signup","text_version":"2024-01"}`, s.times[identifyAt])
	}
}

func (g *generator) identity(c *chunk, r *rand.Rand, customerID [16]byte, typ, value string, first, last int64) {
	b := &c.identities
	b.UUID(UUID7(first/usPerMs, r))
	b.Text(typ)
	b.Text(value)
	b.Time(usTime(first))
	b.Time(usTime(last))
	b.UUID(customerID)
	b.EndRow()
}

func (g *generator) consent(c *chunk, r *rand.Rand, customerID [16]byte, purpose string, granted bool, source, proof string, at int64) {
	b := &c.consents
	b.UUID(UUID7(at/usPerMs, r))
	b.Text(purpose)
	b.Bool(granted)
	b.Text(source)
	b.Time(usTime(at))
	b.Text(proof)
	b.UUID(customerID)
	b.EndRow()
}
