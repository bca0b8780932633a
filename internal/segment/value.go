package segment

import (
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// kind is the comparison type a rule value selects.
type kind int

const (
	kindNone kind = iota // null / absent
	kindString
	kindNumber
	kindBool
	kindList
	kindOther // objects and anything else: not comparable
)

// isoDate is the ISO 8601 subset read as a timestamp, both for rule values and for trait and
// property values: a date (UTC midnight), or a date and time with optional seconds, up to six
// fraction digits and an optional zone (none means UTC). Postgres' cairn_segment_ts uses the
// same expression.
var isoDate = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?$`)

// parseISO parses s as isoDate describes; ok is false for anything else (including impossible
// dates such as 2023-02-29).
func parseISO(s string) (time.Time, bool) {
	if !isoDate.MatchString(s) {
		return time.Time{}, false
	}
	y, _ := strconv.Atoi(s[0:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:10])
	if y < 1 || time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return time.Time{}, false
	}
	if len(s) == 10 {
		return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
	}
	rest := s[11:]
	zone := "Z"
	if strings.HasSuffix(rest, "Z") {
		rest = rest[:len(rest)-1]
	} else if i := strings.LastIndexAny(rest, "+-"); i >= 0 {
		zone, rest = rest[i:], rest[:i]
	}
	layout := "2006-01-02T15:04"
	switch {
	case strings.Contains(rest, "."):
		layout += ":05.999999999"
	case strings.Count(rest, ":") == 2:
		layout += ":05"
	}
	zl := "Z07:00"
	t, err := time.Parse(layout+zl, s[:11]+rest+zone)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// kindOf classifies a rule value (from GraphQL's JSON scalar or decoded JSON).
func kindOf(v any) kind {
	switch v.(type) {
	case nil:
		return kindNone
	case string:
		return kindString
	case json.Number, int, int32, int64, float32, float64:
		return kindNumber
	case bool:
		return kindBool
	case []any:
		return kindList
	}
	return kindOther
}

// numberText returns v's exact decimal text for a numeric SQL parameter.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		if _, ok := new(big.Rat).SetString(string(n)); !ok {
			return "", false
		}
		return string(n), true
	case int:
		return strconv.Itoa(n), true
	case int32:
		return strconv.FormatInt(int64(n), 10), true
	case int64:
		return strconv.FormatInt(n, 10), true
	case float32:
		return numberText(float64(n))
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return "", false
		}
		return strconv.FormatFloat(n, 'g', -1, 64), true
	}
	return "", false
}

// isDateValue reports whether a rule value selects timestamp comparison.
func isDateValue(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	return parseISO(s)
}
