package ingest

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// GeoCountryTrait is the profile trait geolocation sets: the country (ISO 3166-1 alpha-2) of
// the customer's newest event by event time, usable in segment rules
// ({"trait": {"key": "geoCountry", "op": "EQ", "value": "DE"}}). It is a trait of its own so
// that it never overwrites what a client declares (traits.country, traits.address.country).
const GeoCountryTrait = "geoCountry"

// locate geolocates the event's address (the one it sent in context.ip, else the request's),
// before truncation: out.country is set, and context.location (country; region and city with a
// city database) is appended to added unless the event sent a location or it is dropped. The
// address itself is not kept.
func (p *Pipeline) locate(added []byte, out *prepared, ctx contextView, a arrival) []byte {
	ip := ctx.ip
	if !ctx.hasIP {
		ip = a.ip
	}
	if ip == "" {
		return added
	}
	addr, ok := parseAddr(ip)
	if !ok {
		return added
	}
	loc, ok := p.opts.Geo.Lookup(addr)
	if !ok {
		return added
	}
	out.country = loc.Country
	if _, drop := p.dropContext["location"]; ctx.location || drop {
		return added
	}
	v := append(make([]byte, 0, 64), `{"country":`...)
	v = appendJSONString(v, loc.Country)
	if loc.Region != "" {
		v = appendJSONString(append(v, `,"region":`...), loc.Region)
	}
	if loc.City != "" {
		v = appendJSONString(append(v, `,"city":`...), loc.City)
	}
	return appendMember(added, "location", append(v, '}'))
}

// liveWindow is how far before its receipt an event may have happened and still be taken as
// live: its country then becomes the profile's (nothing newer can be stored), so the cache may
// record it. An older event's may lose to a newer one already stored.
const liveWindow = time.Minute

// geoGroup tracks the geoCountry observations of one group commit.
type geoGroup struct {
	live  map[uuid.UUID]geoSeen  // the newest live observation per customer
	stale map[uuid.UUID]struct{} // customers given an older event's country
}

type geoSeen struct {
	at      time.Time
	country string
}

// changes reports whether m's country must be observed on cust's profile: always for an old
// event; for a live one, when it differs from the newest this group observed, else from what
// this process last gave the profile.
func (g *geoGroup) changes(cust uuid.UUID, m *prepared, cache *countryCache) bool {
	if m.occurredAt.Before(m.receivedAt.Add(-liveWindow)) {
		if g.stale == nil {
			g.stale = map[uuid.UUID]struct{}{}
		}
		g.stale[cust] = struct{}{}
		return true
	}
	cur, ok := g.live[cust]
	if !ok {
		if cache.get(cust) == m.country {
			return false
		}
	} else if cur.country == m.country {
		return false
	}
	if !ok || m.occurredAt.After(cur.at) {
		if g.live == nil {
			g.live = map[uuid.UUID]geoSeen{}
		}
		g.live[cust] = geoSeen{at: m.occurredAt, country: m.country}
	}
	return true
}

// committed records the group's outcome in cache, once its transaction committed: a live
// country is the profile's; after an old event's, the profile's is not known.
func (g *geoGroup) committed(cache *countryCache) {
	if len(g.live) == 0 && len(g.stale) == 0 {
		return
	}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if cache.m == nil || len(cache.m)+len(g.live) > maxCountryCache {
		cache.m = make(map[uuid.UUID]string, len(g.live))
	}
	for id := range g.stale {
		delete(cache.m, id)
	}
	for id, s := range g.live {
		cache.m[id] = s.country
	}
}

// countryCache maps customers to the geoCountry this process last gave their profile
// (bounded: cleared when full, which costs one trait write per profile seen again).
type countryCache struct {
	mu sync.Mutex
	m  map[uuid.UUID]string
}

const maxCountryCache = 500_000

func (c *countryCache) get(id uuid.UUID) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}
