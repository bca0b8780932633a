package identity

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Identifier types.
const (
	TypeUserID      = "user_id"
	TypeAnonymousID = "anonymous_id"
	TypeEmail       = "email"
	TypePhone       = "phone"
	TypeDeviceID    = "device_id"
	// ExternalPrefix starts the type of an external id: "external:<source>", e.g.
	// "external:shopify_id" from context.externalIds [{type: "shopify_id", id: "…"}].
	ExternalPrefix = "external:"
)

// MaxValueLen is the longest identifier value accepted (the identities.value column's limit).
const MaxValueLen = 512

// Identifier is one normalised identifier.
type Identifier struct {
	Type  string
	Value string
}

// Config tunes resolution. The zero value is not useful; start from DefaultConfig.
type Config struct {
	// Limits caps how many identifiers of a type one profile may hold; types not listed use
	// DefaultLimit. A new identifier beyond the limit is not linked, and a merge that would pass
	// it is refused (recorded as a conflict).
	Limits       map[string]int
	DefaultLimit int
	// Blocklist holds junk values that never identify anyone, compared after trimming and
	// lower-casing (so "NULL" and " null " match "null").
	Blocklist []string
	// PhoneRegion is the ISO region assumed for phone numbers written without a country code
	// (e.g. "US"); empty means only numbers with a leading + or 00 are put in E.164 form.
	PhoneRegion string
	// SeenGranularity is how stale an identity's or customer's last_seen_at may get before an
	// event updates it; coarse granularity saves a row update per event on busy profiles.
	SeenGranularity time.Duration
	// CacheSize bounds the in-process cache of committed identifier resolutions (default
	// 500,000 entries); negative disables it.
	CacheSize int
}

// DefaultBlocklist is the junk that client code commonly sends for "no value".
var DefaultBlocklist = []string{
	"", "null", "nil", "none", "undefined", "nan", "0", "-1", "false", "true", "[object object]",
	"anonymous", "anon", "unknown", "guest", "n/a", "na", "-", "{}", "[]",
	"test@test.com", "test@example.com", "email@example.com", "user@example.com", "noemail@noemail.com",
	"no@email.com", "none@none.com", "example@example.com",
}

// DefaultConfig returns the defaults: 5 identifiers per type, one user_id, DefaultBlocklist.
func DefaultConfig() Config {
	return Config{
		Limits:          map[string]int{TypeUserID: 1},
		DefaultLimit:    5,
		Blocklist:       slices.Clone(DefaultBlocklist),
		SeenGranularity: time.Minute,
	}
}

// Limit returns the maximum number of identifiers of typ one profile may hold.
func (c Config) Limit(typ string) int {
	if n, ok := c.Limits[typ]; ok {
		return n
	}
	if c.DefaultLimit <= 0 {
		return 5
	}
	return c.DefaultLimit
}

// Normalizer normalises identifier values the same way for ingestion and lookups.
type Normalizer struct {
	block  map[string]struct{}
	region string
}

// NewNormalizer returns a normaliser for cfg's blocklist and phone region.
func NewNormalizer(cfg Config) *Normalizer {
	n := &Normalizer{block: make(map[string]struct{}, len(cfg.Blocklist)), region: strings.ToUpper(cfg.PhoneRegion)}
	for _, v := range cfg.Blocklist {
		n.block[strings.ToLower(strings.TrimSpace(v))] = struct{}{}
	}
	return n
}

// Normalize returns the stored form of value as an identifier of typ: trimmed; emails
// lower-cased; phones in E.164 when parseable (otherwise their digits, with a leading + kept).
// It returns an error wrapping ErrJunk for blocklisted values and ErrInvalid for values that
// cannot be an identifier of typ. Its signature matches profile.Normalizer.
func (n *Normalizer) Normalize(typ, value string) (string, error) {
	if !ValidType(typ) {
		return "", fmt.Errorf("%w: unknown identifier type %q", ErrInvalid, typ)
	}
	v := strings.TrimSpace(value)
	if typ == TypeEmail {
		v = strings.ToLower(v)
	}
	if _, junk := n.block[strings.ToLower(v)]; junk {
		return "", fmt.Errorf("%w (%s)", ErrJunk, typ)
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return "", fmt.Errorf("%w: %s is not valid UTF-8 text", ErrInvalid, typ)
	}
	switch typ {
	case TypeEmail:
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 || strings.ContainsFunc(v, unicode.IsSpace) {
			return "", fmt.Errorf("%w: email has no user@domain form", ErrInvalid)
		}
	case TypePhone:
		v = n.phone(v)
		if _, junk := n.block[v]; junk || len(strings.Trim(v, "+0")) == 0 {
			return "", fmt.Errorf("%w (%s)", ErrJunk, typ)
		}
	}
	if len(v) > MaxValueLen {
		return "", fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, typ, MaxValueLen)
	}
	return v, nil
}

// phone returns E.164 when the number parses as a possible number, else its digits with a
// leading + kept (so "+1 (415) 555-0100" and "+14155550100" match either way).
func (n *Normalizer) phone(v string) string {
	region := n.region
	if region == "" {
		region = "ZZ" // unknown region: only international forms parse
	}
	if strings.HasPrefix(v, "00") {
		v = "+" + v[2:]
	}
	if num, err := phonenumbers.Parse(v, region); err == nil && phonenumbers.IsPossibleNumber(num) {
		return phonenumbers.Format(num, phonenumbers.E164)
	}
	var b strings.Builder
	for i, r := range v {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || b.String() == "+" {
		return v
	}
	return b.String()
}

// ValidType reports whether typ is a known identifier type.
func ValidType(typ string) bool {
	switch typ {
	case TypeUserID, TypeAnonymousID, TypeEmail, TypePhone, TypeDeviceID:
		return true
	}
	src, ok := strings.CutPrefix(typ, ExternalPrefix)
	return ok && src != "" && len(typ) <= 64
}

// priority orders identifier types from the most to the least specific: the customer of a
// higher-priority identifier is the primary profile of a message.
func priority(typ string) int {
	switch typ {
	case TypeUserID:
		return 0
	case TypeAnonymousID:
		return 1
	case TypeDeviceID:
		return 2
	case TypeEmail:
		return 3
	case TypePhone:
		return 4
	}
	return 5
}

// SortByPriority orders ids from the most to the least specific type (stable within a type).
func SortByPriority(ids []Identifier) {
	slices.SortStableFunc(ids, func(a, b Identifier) int { return priority(a.Type) - priority(b.Type) })
}
