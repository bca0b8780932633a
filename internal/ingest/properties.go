package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// storeObject returns obj (a JSON object) as it can be stored in a jsonb column: as sent when
// it can be, else decoded and re-encoded.
func storeObject(field string, obj []byte) (string, error) {
	if wire.Storable(obj) {
		return string(obj), nil
	}
	decoded, err := decodeObject(field, obj)
	if err != nil {
		return "", err
	}
	out, err := encodeJSON(decoded)
	if err != nil {
		return "", wire.Invalid(field, "cannot be encoded: %s", err)
	}
	return out, nil
}

// decodeObject decodes the JSON object text (nil for none) of the message's field.
func decodeObject(field string, text []byte) (map[string]any, error) {
	text = wire.Object(text)
	if text == nil {
		return nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(text, &out); err != nil {
		return nil, wire.Invalid(field, "cannot be decoded: %s", err)
	}
	return out, nil
}

// revenueIn is revenueOf for properties as JSON text, decoding only the members it reads.
func revenueIn(props []byte) (string, error) {
	var found map[string]any
	err := wire.EachMember(props, func(key, value []byte) error {
		if k := string(key); k == "revenue" || k == "total" {
			var x any
			if err := json.Unmarshal(value, &x); err != nil {
				return wire.Invalid("properties."+k, "cannot be decoded: %s", err)
			}
			if found == nil {
				found = map[string]any{}
			}
			found[k] = x
		}
		return nil
	})
	if errors.Is(err, wire.ErrNotObject) {
		err = wire.Invalid("properties", "must be a JSON object")
	}
	if err != nil {
		return "", err
	}
	return revenueOf(found), nil
}

// withMembers returns the JSON object obj (nil for none) with the members of add (strings)
// appended, in key order. A key obj already has then appears twice: jsonb keeps the last, as
// EachMember and encoding/json do, so add's win.
func withMembers(obj []byte, add map[string]any) []byte {
	out := make([]byte, 0, len(obj)+64)
	if wire.EmptyObject(obj) {
		out = append(out, '{')
	} else {
		out = append(out, obj[:len(obj)-1]...)
		out = append(out, ',')
	}
	first := true
	for _, k := range slices.Sorted(maps.Keys(add)) {
		v, ok := add[k].(string)
		if !ok {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = appendJSONString(out, v)
	}
	if first {
		return obj
	}
	return append(out, '}')
}

// withRawMembers returns the JSON object obj (nil for none) with members, the text of
// members ("k":v pairs joined by commas), appended. A key obj already has then appears twice:
// jsonb keeps the last, as EachMember and encoding/json do, so the appended one wins.
func withRawMembers(obj string, members []byte) string {
	obj = strings.TrimSpace(obj)
	var out strings.Builder
	out.Grow(len(obj) + len(members) + 2)
	if len(obj) < 2 || strings.TrimSpace(obj[1:len(obj)-1]) == "" {
		out.WriteByte('{')
	} else {
		out.WriteString(obj[:len(obj)-1])
		out.WriteByte(',')
	}
	out.Write(members)
	out.WriteByte('}')
	return out.String()
}

// appendMember appends the member key: value (JSON text) to members (see withRawMembers).
func appendMember(members []byte, key string, value []byte) []byte {
	if len(members) > 0 {
		members = append(members, ',')
	}
	members = appendJSONString(members, key)
	members = append(members, ':')
	return append(members, value...)
}

// appendJSONString appends s as a JSON string in its minimal form (RFC 8785). Unlike
// json.Marshal it leaves <, > and & as they are: escaped as \u003c and so on, the object would
// no longer be storable as is, and a page named "Terms & Conditions" would be decoded and
// re-encoded for nothing. Invalid UTF-8 becomes U+FFFD, as json.Marshal makes it.
func appendJSONString(dst []byte, s string) []byte {
	out, _ := jsontext.AppendQuote(dst, s) // the error only reports invalid UTF-8, replaced
	return out
}

// revenueOf reads properties.revenue, else properties.total, as numeric text ("" when absent,
// not a number, or beyond the column's numeric(18,4) range).
func revenueOf(props map[string]any) string {
	for _, k := range []string{"revenue", "total"} {
		var f float64
		switch v := props[k].(type) {
		case float64:
			f = v
		case string:
			var err error
			if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				continue
			}
		default:
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 1e14 {
			continue
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return ""
}

// encodeJSON encodes v for a jsonb column, which refuses the NUL character: NULs are removed
// from keys and strings.
func encodeJSON(v map[string]any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if bytes.Contains(b, []byte(`\u0000`)) {
		if b, err = json.Marshal(stripNUL(v)); err != nil {
			return "", err
		}
	}
	return string(b), nil
}

func stripNUL(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "")
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.ReplaceAll(k, "\x00", "")] = stripNUL(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = stripNUL(x)
		}
		return out
	}
	return v
}

// mergeShallow returns own with the keys of shared it lacks.
func mergeShallow(own, shared map[string]any) map[string]any {
	if len(shared) == 0 {
		return own
	}
	out := make(map[string]any, len(own)+len(shared))
	for k, v := range shared {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
