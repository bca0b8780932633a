package wire

// Helpers for JSON objects kept as text (a message's context, properties, traits and
// integrations): checks, merging, and reading members without decoding the rest.

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// sameBytes reports whether a and b are the same bytes in memory (not merely equal).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// Object returns text, a JSON object as Validate accepts it, trimmed; nil for null or none.
func Object(text json.RawMessage) []byte {
	t := bytes.TrimSpace(text)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	return t
}

// objectField checks that raw, a decoded member's value, is an object or null (nil for null)
// whose numbers all fit a float64, as decoding it into a map[string]any requires: stored, a
// number beyond that would make the row unreadable by ent.
func objectField(name string, raw []byte) (json.RawMessage, error) {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '{':
		if n, bad := numberOutOfRange(raw); bad {
			return nil, Invalid(name, "must be a JSON float64, not number %s", truncate(n, 40))
		}
		return raw, nil
	}
	kind := "number"
	switch raw[0] {
	case '[':
		kind = "array"
	case '"':
		kind = "string"
	case 't', 'f':
		kind = "bool"
	}
	return nil, Invalid(name, "must be a JSON object, not %s", kind)
}

// mergeObjects returns the JSON object own with the members of shared it lacks: shared's
// members, then own's. A key both have then appears twice and the later one, own's, is the
// one that counts, for jsonb as for encoding/json and EachMember.
func mergeObjects(own, shared json.RawMessage) json.RawMessage {
	if EmptyObject(shared) {
		return own
	}
	if EmptyObject(own) {
		return shared
	}
	s, o := bytes.TrimSpace(shared), bytes.TrimSpace(own)
	out := make(json.RawMessage, 0, len(s)+len(o))
	out = append(out, s[:len(s)-1]...)
	out = append(out, ',')
	return append(out, o[1:]...)
}

// EmptyObject reports whether text, a valid JSON object or nil, has no members.
func EmptyObject(text []byte) bool {
	t := bytes.TrimSpace(text)
	return len(t) == 0 || len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}

// Storable reports whether a JSON object's text can be stored in a jsonb column as is, meaning
// the same as decoding and re-encoding it: valid UTF-8 (the decoder replaces invalid bytes) and
// no \u escapes (\u0000 and lone surrogates, which the decoder replaces and jsonb refuses).
func Storable(raw []byte) bool {
	return len(raw) > 0 && raw[0] == '{' && !bytes.Contains(raw, []byte(`\u`)) && utf8.Valid(raw)
}

// numberOutOfRange returns the first number in text (valid JSON) that overflows a float64, if
// any. Strings are jumped over; only numbers with an exponent or over 300 characters can
// overflow, so only those are parsed.
func numberOutOfRange(text []byte) (string, bool) {
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"':
			end := stringEnd(text, i+1)
			if end < 0 {
				return "", false
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			j, exp := i, false
			for j < len(text) && strings.IndexByte("+-.0123456789eE", text[j]) >= 0 {
				exp = exp || text[j] == 'e' || text[j] == 'E'
				j++
			}
			if exp || j-i > 300 {
				if _, err := strconv.ParseFloat(string(text[i:j]), 64); err != nil {
					return string(text[i:j]), true
				}
			}
			i = j - 1
		}
	}
	return "", false
}

// EachMember calls fn with the key and the value text of each top-level member of obj, a valid
// JSON object, in order, stopping at fn's first error. Keys are unescaped; a key that appears
// twice is met twice, and the later one is the one a decoder keeps.
func EachMember(obj []byte, fn func(key, value []byte) error) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return ErrNotObject
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return ErrNotObject
		}
		switch obj[i] {
		case '}':
			return nil
		case ',':
			i++
			continue
		case '"':
		default:
			return ErrNotObject
		}
		j := stringEnd(obj, i+1)
		if j < 0 {
			return ErrNotObject
		}
		key := obj[i+1 : j]
		if bytes.IndexByte(key, '\\') >= 0 {
			k, err := Unquote(obj[i : j+1])
			if err != nil {
				return ErrNotObject
			}
			key = []byte(k)
		}
		i = skipSpace(obj, j+1)
		if i >= len(obj) || obj[i] != ':' {
			return ErrNotObject
		}
		i = skipSpace(obj, i+1)
		end, ok := skipValue(obj, i)
		if !ok || end == i {
			return ErrNotObject
		}
		if err := fn(key, obj[i:end]); err != nil {
			return err
		}
		i = end
	}
}

// ErrNotObject is EachMember's answer to text that is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// eachElement calls fn with the text of each element of arr, a valid JSON array, in order.
func eachElement(arr []byte, fn func(value []byte) error) error {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return ErrNotObject
	}
	i++
	for {
		i = skipSpace(arr, i)
		if i >= len(arr) {
			return ErrNotObject
		}
		switch arr[i] {
		case ']':
			return nil
		case ',':
			i++
			continue
		}
		end, ok := skipValue(arr, i)
		if !ok || end == i {
			return ErrNotObject
		}
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = end
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the JSON string whose text starts at b[i]
// (just after its opening quote), or -1. It jumps from quote to quote with bytes.IndexByte,
// which is vectorised: strings are most of a message's bytes.
func stringEnd(b []byte, i int) int {
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		q += i
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// skipValue returns the end of the (valid) JSON value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			end := stringEnd(b, i+1)
			if end < 0 {
				return 0, false
			}
			i = end + 1
			if depth == 0 {
				return i, true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, true // the end of a scalar member's object
			}
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return i, true
			}
		}
		i++
	}
	return i, depth == 0
}
