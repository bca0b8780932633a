package app

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/cairn-cdp/cairn/internal/geoip"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
)

// IdentityConfig is identity.DefaultConfig with the environment's overrides:
//
//   - CAIRN_IDENTITY_LIMITS: identifiers of a type one profile may hold, as type=n pairs
//     ("email=3,external:crm=2"); "*" sets the default for types not listed (default 5; user_id 1).
//   - CAIRN_IDENTITY_BLOCKLIST: more junk values that never identify anyone, comma-separated,
//     added to identity.DefaultBlocklist (compared trimmed and lower-cased).
//   - CAIRN_PHONE_REGION: the ISO region assumed for phone numbers without a country code ("US").
//   - CAIRN_SEEN_GRANULARITY: how far a profile's (and identifier's) lastSeenAt may lag its
//     newest event (a Go duration, default 1m, at most 1h); 0 makes it exact as of each commit,
//     at the price of a profile row update (and a segment re-evaluation) per event.
func (c Config) IdentityConfig() (identity.Config, error) {
	cfg := identity.DefaultConfig()
	for _, kv := range splitList(c.IdentityLimits) {
		typ, val, ok := strings.Cut(kv, "=")
		typ, val = strings.TrimSpace(typ), strings.TrimSpace(val)
		n, err := strconv.Atoi(val)
		switch {
		case !ok || err != nil || n < 1 || n > 1000:
			return cfg, fmt.Errorf("invalid CAIRN_IDENTITY_LIMITS entry %q: want type=n with n between 1 and 1000 (e.g. email=3,*=5)", kv)
		case typ == "*":
			cfg.DefaultLimit = n
		case typ == identity.TypeUserID:
			if n != 1 {
				return cfg, fmt.Errorf("invalid CAIRN_IDENTITY_LIMITS entry %q: a profile holds at most one user_id (a second one is a conflict, never a merge)", kv)
			}
		default:
			// External types are stored lower-cased (ingest folds context.externalIds[].type).
			if strings.HasPrefix(strings.ToLower(typ), identity.ExternalPrefix) {
				typ = strings.ToLower(typ)
			}
			if !identifierType.MatchString(typ) || !identity.ValidType(typ) {
				return cfg, fmt.Errorf("invalid CAIRN_IDENTITY_LIMITS type %q: use anonymous_id, email, phone, device_id, external:<source> (at most 64 characters in all) or *", typ)
			}
			cfg.Limits[typ] = n
		}
	}
	for _, v := range splitList(c.IdentityBlocklist) {
		cfg.Blocklist = append(cfg.Blocklist, strings.ToLower(strings.TrimSpace(v)))
	}
	if r := strings.ToUpper(strings.TrimSpace(c.PhoneRegion)); r != "" {
		if !phonenumbers.GetSupportedRegions()[r] {
			return cfg, fmt.Errorf("invalid CAIRN_PHONE_REGION %q: want a two-letter ISO 3166 region such as US or GB (UK is GB)", c.PhoneRegion)
		}
		cfg.PhoneRegion = r
	}
	if g := strings.TrimSpace(c.SeenGranularity); g != "" {
		d, err := time.ParseDuration(g)
		if g == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 || d > maxSeenGranularity {
			return cfg, fmt.Errorf("invalid CAIRN_SEEN_GRANULARITY %q: want a duration from 0 (exact) to 1h, such as 1m or 10s", c.SeenGranularity)
		}
		cfg.SeenGranularity = d
	}
	return cfg, nil
}

// maxSeenGranularity bounds CAIRN_SEEN_GRANULARITY: lastSeenAt is meant to be recent.
const maxSeenGranularity = time.Hour

// maxIngestWriters bounds CAIRN_INGEST_WRITERS: each writer holds a database connection and a
// transaction, and past a few per core they only contend (see ingest.Options.Writers).
const maxIngestWriters = 32

// IngestOptions are the tracking API's pipeline options from the environment: CAIRN_KEEP_IP,
// CAIRN_INGEST_WRITERS, and
//
//   - CAIRN_CONSENT_PURPOSES: category=purpose pairs ("Analytics=analytics,Ads=email_marketing")
//     merged over ingest.DefaultConsentPurposes; a purpose of "-" ignores that category. Only
//     the purpose "analytics" drops later events when denied, so mapping a consent manager's
//     analytics category elsewhere (or to "-") stops that.
//   - CAIRN_DROP_CONTEXT: top-level context fields never stored ("userAgent,locale"); not
//     "consent", which Cairn records and enforces.
func (c Config) IngestOptions() (ingest.Options, error) {
	o := ingest.Options{KeepIP: c.KeepIP}
	if w := strings.TrimSpace(c.IngestWriters); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 || n > maxIngestWriters {
			return o, fmt.Errorf("invalid CAIRN_INGEST_WRITERS %q: want a number of writers from 1 to %d", c.IngestWriters, maxIngestWriters)
		}
		o.Writers = n
	}
	if c.ConsentPurposes != "" {
		o.ConsentPurposes = maps.Clone(ingest.DefaultConsentPurposes)
		for _, kv := range splitList(c.ConsentPurposes) {
			cat, purpose, ok := strings.Cut(kv, "=")
			cat, purpose = strings.TrimSpace(cat), strings.TrimSpace(purpose)
			key := ingest.CategoryKey(cat)
			switch {
			case !ok || key == "":
				return o, fmt.Errorf("invalid CAIRN_CONSENT_PURPOSES entry %q: want category=purpose (e.g. Advertising=email_marketing)", kv)
			case purpose == "-":
				delete(o.ConsentPurposes, key)
			case !consentPurpose.MatchString(purpose):
				return o, fmt.Errorf("invalid CAIRN_CONSENT_PURPOSES purpose %q: use lower-case letters, digits and _ (e.g. email_marketing), or - to ignore the category", purpose)
			default:
				o.ConsentPurposes[key] = purpose
			}
		}
	}
	for _, f := range splitList(c.DropContext) {
		if !contextField.MatchString(f) {
			return o, fmt.Errorf("invalid CAIRN_DROP_CONTEXT field %q: want top-level context keys such as userAgent,locale", f)
		}
		if f == "consent" {
			return o, errors.New("invalid CAIRN_DROP_CONTEXT: context.consent cannot be dropped, Cairn records and enforces it (its categories are mapped by CAIRN_CONSENT_PURPOSES)")
		}
		o.DropContext = append(o.DropContext, f)
	}
	return o, nil
}

// TrackingOptions are the tracking API's HTTP options from the environment:
//
//   - CAIRN_TRUSTED_PROXIES: the reverse proxies in front of Cairn, as CIDR prefixes or
//     addresses ("10.0.0.0/8,192.168.1.7"). X-Forwarded-For is believed only from them; a
//     message without context.ip gets the request's address (truncated as a sent one is).
func (c Config) TrackingOptions() (ingest.HandlerOptions, error) {
	trusted, err := ingest.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return ingest.HandlerOptions{}, fmt.Errorf("invalid CAIRN_TRUSTED_PROXIES %q: want CIDR prefixes or addresses, comma-separated (e.g. 10.0.0.0/8,192.168.1.7): %w", c.TrustedProxies, err)
	}
	return ingest.HandlerOptions{TrustedProxies: trusted}, nil
}

// GeoIPFile is where `make geoip` installs the openly licensed IP→country database
// (geo-whois-asn-country, from the npm package @ip-location-db/geo-whois-asn-country-mmdb),
// under CAIRN_DATA_DIR; CAIRN_GEOIP_DB defaults to it when it is there.
const GeoIPFile = "geoip/geo-whois-asn-country.mmdb"

// OpenGeoIP opens the geolocation database from the environment, returning nil when
// geolocation is off, with a line saying which database is used or why none is:
//
//   - CAIRN_GEOIP: "off" disables geolocation; "on" or unset enables it when a database is
//     found.
//   - CAIRN_GEOIP_DB: a MaxMind-format database (a country database, or a city database for
//     regions and cities too). Unset: $CAIRN_DATA_DIR/geoip/geo-whois-asn-country.mmdb when
//     present (installed by `make geoip`); none there means geolocation is off. A path that is
//     set must open.
func (c Config) OpenGeoIP() (*geoip.DB, string, error) {
	switch strings.ToLower(strings.TrimSpace(c.GeoIP)) {
	case "off", "false", "0":
		return nil, "geolocation off (CAIRN_GEOIP=off)", nil
	case "", "on", "true", "1":
	default:
		return nil, "", fmt.Errorf("invalid CAIRN_GEOIP %q: want on or off", c.GeoIP)
	}
	path := strings.TrimSpace(c.GeoIPDB)
	if path == "" {
		path = filepath.Join(c.DataDir, GeoIPFile)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Sprintf("geolocation off: no database at %s (run `make geoip`, or set CAIRN_GEOIP_DB to a MaxMind-format file)", path), nil
		}
	}
	db, err := geoip.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("invalid CAIRN_GEOIP_DB: %w", err)
	}
	return db, fmt.Sprintf("geolocation on: %s from %s", db, path), nil
}

var (
	identifierType = regexp.MustCompile(`^(anonymous_id|email|phone|device_id|external:[a-z0-9_.-]+)$`)
	consentPurpose = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	contextField   = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$`)
)

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
