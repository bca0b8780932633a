package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// The decoders' fast path. encoding/json scans every value twice (once to find where it ends,
// once to decode it). Here the body is validated in one pass by jsontext (encoding/json/v2's
// syntax layer, ~4x faster than json.Valid) and the known fields are then read with EachMember. It handles what well-formed
// clients send; for anything else (invalid JSON, a value of the wrong type, an object member
// that is not an object or holds a number out of float64's range, a key that is not plain
// ASCII, an oversized item) it reports false and the decoders take encoding/json's path, so that
// errors, and what is accepted, stay exactly encoding/json's. FuzzFastDecodeMatches checks that
// both paths decode alike.

// validJSON reports whether data is valid JSON as encoding/json accepts it: duplicate names and
// invalid UTF-8 in strings allowed (the decoders replace invalid bytes).
func validJSON(data []byte) bool {
	return jsontext.Value(data).IsValid(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}

var errSlowPath = errors.New("left to encoding/json")

// scanBatchFast is scanBatch and the decoding of the other members for a valid body whose
// values all have the expected types (ok false otherwise).
func scanBatchFast(data []byte) (w wireBatch, items []batchItem, ok bool) {
	if !validJSON(data) {
		return w, nil, false
	}
	var raws [][]byte
	var seen objectsSeen
	err := EachMember(data, func(key, value []byte) error {
		if !plainKey(key) {
			return errSlowPath
		}
		switch {
		case bytes.EqualFold(key, []byte("batch")):
			if value[0] != '[' {
				return errSlowPath
			}
			raws = make([][]byte, 0, 128)
			return eachElement(value, func(item []byte) error {
				if item[0] != '{' || len(item) > MaxEventBytes {
					return errSlowPath
				}
				raws = append(raws, item)
				return nil
			})
		case bytes.EqualFold(key, []byte("context")):
			return seen.set(&w.Context, 0, value)
		case bytes.EqualFold(key, []byte("integrations")):
			return seen.set(&w.Integrations, 1, value)
		case bytes.EqualFold(key, []byte("sentAt")):
			w.SentAt = json.RawMessage(value) // parsed before DecodeBatch returns
		case bytes.EqualFold(key, []byte("writeKey")):
			return setFlex(&w.WriteKey, value)
		}
		return nil
	})
	if err != nil || raws == nil || len(raws) > MaxBatchSize {
		return w, nil, false
	}
	items = make([]batchItem, len(raws))
	for i, raw := range raws {
		items[i].size, items[i].raw = len(raw), raw
		if !items[i].wm.decodeFast(raw) {
			return w, nil, false
		}
		items[i].writeKey = string(items[i].wm.WriteKey)
	}
	return w, items, true
}

// decodeFast decodes obj, a valid JSON object, into w as encoding/json would, reporting false
// (w then half-filled) when obj holds a key that is not plain ASCII or a value of the wrong type.
func (w *wireMessage) decodeFast(obj []byte) bool {
	var seen objectsSeen
	err := EachMember(obj, func(key, value []byte) error {
		if !plainKey(key) {
			return errSlowPath
		}
		flex, tm, obj, i := w.field(key)
		switch {
		case flex != nil:
			return setFlex(flex, value)
		case tm != nil:
			// Not copied: parsed into a time.Time before the decoder returns.
			*tm = json.RawMessage(value)
			return nil
		case obj != nil:
			return seen.set(obj, i, value)
		}
		if bytes.EqualFold(key, []byte("type")) {
			switch value[0] {
			case 'n': // null leaves a string as it is
			case '"':
				s, err := Unquote(value)
				if err != nil {
					return errSlowPath
				}
				w.Type = s
			default:
				return errSlowPath
			}
		}
		return nil
	})
	return err == nil
}

// field is w's field named key, matched as encoding/json matches a plain ASCII key (ASCII case
// folding): a flexString, a timestamp, or an object field and its index; all nil for another key.
func (w *wireMessage) field(key []byte) (flex *flexString, tm *json.RawMessage, obj *jsonObject, objIndex int) {
	var buf [len("originalTimestamp")]byte
	if len(key) > len(buf) {
		return nil, nil, nil, 0
	}
	lower := buf[:len(key)]
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower) {
	case "messageid":
		flex = &w.MessageID
	case "userid":
		flex = &w.UserID
	case "anonymousid":
		flex = &w.AnonymousID
	case "event":
		flex = &w.Event
	case "name":
		flex = &w.Name
	case "category":
		flex = &w.Category
	case "groupid":
		flex = &w.GroupID
	case "previousid":
		flex = &w.PreviousID
	case "channel":
		flex = &w.Channel
	case "writekey":
		flex = &w.WriteKey
	case "timestamp":
		tm = &w.Timestamp
	case "originaltimestamp":
		tm = &w.OriginalTimestamp
	case "sentat":
		tm = &w.SentAt
	case "context":
		obj, objIndex = &w.Context, 0
	case "integrations":
		obj, objIndex = &w.Integrations, 1
	case "properties":
		obj, objIndex = &w.Properties, 2
	case "traits":
		obj, objIndex = &w.Traits, 3
	}
	return flex, tm, obj, objIndex
}

// objectsSeen records which object fields a fast decoding met: one met twice is left to
// encoding/json, which checks (and merges) every occurrence.
type objectsSeen [4]bool

func (s *objectsSeen) set(dst *jsonObject, i int, value []byte) error {
	if s[i] {
		return errSlowPath
	}
	s[i] = true
	*dst = jsonObject(slices.Clone(value))
	return nil
}

// setFlex decodes value into f as flexString.UnmarshalJSON does, leaving other types to
// encoding/json's path (which reports them).
func setFlex(f *flexString, value []byte) error {
	switch c := value[0]; {
	case c == 'n', c == '"', c == '-', c >= '0' && c <= '9':
		if f.UnmarshalJSON(value) != nil {
			return errSlowPath
		}
		return nil
	}
	return errSlowPath
}

// plainKey reports whether key is printable ASCII, which encoding/json matches to a field
// name by ASCII case folding alone (it folds a few other letters too, such as the Kelvin sign).
func plainKey(key []byte) bool {
	for _, c := range key {
		if c < 0x20 || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
