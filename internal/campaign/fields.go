package campaign

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Merge-field sources. A campaign's fields map each merge field name to one of them.
const (
	SourceEmail      = "email"       // the normalised email
	SourceCustomerID = "customer_id" // Cairn's customer id
	SourceTrait      = "trait:"      // prefix: "trait:first_name" is traits.first_name as text
)

// maxFields bounds a campaign's merge fields (Mailchimp allows 30 merge fields per audience).
const maxFields = 50

var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// fieldArrays are a campaign's merge fields as the parallel arrays upsert-diff reads, sorted by
// name.
type fieldArrays struct{ names, sources, keys []string }

// ValidateFields checks a merge-field mapping: names are letters, digits and _ (≤ 64, starting
// with a letter); sources are "email", "customer_id" or "trait:<key>".
func ValidateFields(fields map[string]string) error {
	_, err := parseFields(fields)
	return err
}

func parseFields(fields map[string]string) (fieldArrays, error) {
	if len(fields) > maxFields {
		return fieldArrays{}, fmt.Errorf("%w: fields: at most %d merge fields", ErrInvalidInput, maxFields)
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	var a fieldArrays
	for _, n := range names {
		if !fieldName.MatchString(n) {
			return fieldArrays{}, fmt.Errorf("%w: fields: merge field name %q must be letters, digits or _ (at most 64), starting with a letter", ErrInvalidInput, n)
		}
		src := fields[n]
		var source, key string
		switch {
		case src == SourceEmail, src == SourceCustomerID:
			source = src
		case strings.HasPrefix(src, SourceTrait) && len(src) > len(SourceTrait) && len(src) <= 200:
			source, key = "trait", strings.TrimPrefix(src, SourceTrait)
		default:
			return fieldArrays{}, fmt.Errorf("%w: fields.%s: source %q must be email, customer_id or trait:<key>", ErrInvalidInput, n, src)
		}
		a.names = append(a.names, n)
		a.sources = append(a.sources, source)
		a.keys = append(a.keys, key)
	}
	return a, nil
}
