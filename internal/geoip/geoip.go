package geoip

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is where an address is, as stored in an event's context.location.
type Location struct {
	Country string `json:"country"`          // ISO 3166-1 alpha-2, upper case ("DE")
	Region  string `json:"region,omitempty"` // city databases only
	City    string `json:"city,omitempty"`   // city databases only
}

// DB is an open MMDB file; its methods are safe for concurrent use.
type DB struct {
	r    *maxminddb.Reader
	city bool // the database has regions and cities

	// cache maps a record's offset in the file to its Location: many networks share one record
	// (a country database holds ~250), so most lookups decode nothing. Bounded by maxCached.
	mu    sync.RWMutex
	cache map[uintptr]Location
}

const maxCached = 100_000

// Open opens the MMDB file at path.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("error opening GeoIP database %s: %w", path, err)
	}
	return &DB{r: r, city: strings.Contains(strings.ToLower(r.Metadata.DatabaseType), "city"), cache: map[uintptr]Location{}}, nil
}

// Close closes the file; no lookup may run during or after it.
func (d *DB) Close() error { return d.r.Close() }

// String describes the database for a start-up log line: its type, build date and whether it
// has cities.
func (d *DB) String() string {
	what := "countries"
	if d.city {
		what = "countries, regions and cities"
	}
	return fmt.Sprintf("%s built %s (%s)", d.r.Metadata.DatabaseType, d.r.Metadata.BuildTime().UTC().Format("2006-01-02"), what)
}

// Lookup returns where a is; ok is false when the database does not know a country for it
// (private and reserved ranges, for instance).
func (d *DB) Lookup(a netip.Addr) (loc Location, ok bool) {
	res := d.r.Lookup(a.Unmap())
	if !res.Found() {
		return Location{}, false
	}
	off := res.Offset()
	d.mu.RLock()
	loc, ok = d.cache[off]
	d.mu.RUnlock()
	if ok {
		return loc, loc.Country != ""
	}
	loc = d.decode(res)
	d.mu.Lock()
	if len(d.cache) >= maxCached {
		clear(d.cache)
	}
	d.cache[off] = loc
	d.mu.Unlock()
	return loc, loc.Country != ""
}

// decode reads a record in either layout; a member of an unexpected type reads as absent.
func (d *DB) decode(res maxminddb.Result) Location {
	var loc Location
	first := func(dst *string, paths ...[]any) {
		for _, p := range paths {
			var s string
			if res.DecodePath(&s, p...) == nil && strings.TrimSpace(s) != "" {
				*dst = strings.TrimSpace(s)
				return
			}
		}
	}
	first(&loc.Country, []any{"country", "iso_code"}, []any{"country_code"}, []any{"registered_country", "iso_code"})
	loc.Country = strings.ToUpper(loc.Country)
	if len(loc.Country) != 2 {
		return Location{}
	}
	if d.city {
		first(&loc.Region, []any{"subdivisions", 0, "names", "en"}, []any{"state1"})
		first(&loc.City, []any{"city", "names", "en"}, []any{"city"})
	}
	return loc
}
