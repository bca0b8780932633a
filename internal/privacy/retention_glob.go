package privacy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxGlobLen bounds an event glob (event names are at most 512 characters).
const maxGlobLen = 512

// globToLike translates an event glob to a LIKE pattern with escape character '\': `*` matches
// any run of characters, `?` exactly one, and every other character itself (LIKE's own %, _ and
// \ are escaped). The result is always bound as a parameter, never spliced into SQL.
func globToLike(glob string) (string, error) {
	if glob == "" {
		return "", fmt.Errorf("%w: the event glob is empty (omit it to match every event)", ErrInvalidPolicy)
	}
	if len(glob) > maxGlobLen {
		return "", fmt.Errorf("%w: the event glob is longer than %d bytes", ErrInvalidPolicy, maxGlobLen)
	}
	if !utf8.ValidString(glob) {
		return "", fmt.Errorf("%w: the event glob is not valid UTF-8", ErrInvalidPolicy)
	}
	var b strings.Builder
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case 0:
			return "", fmt.Errorf("%w: the event glob holds a NUL character", ErrInvalidPolicy)
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
