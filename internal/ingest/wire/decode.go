package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// wireFields are the fields of a message's JSON form but its objects, lenient where Segment's
// libraries are (ids may be numbers).
type wireFields struct {
	Type              string          `json:"type"`
	MessageID         flexString      `json:"messageId"`
	UserID            flexString      `json:"userId"`
	AnonymousID       flexString      `json:"anonymousId"`
	Event             flexString      `json:"event"`
	Name              flexString      `json:"name"`
	Category          flexString      `json:"category"`
	GroupID           flexString      `json:"groupId"`
	PreviousID        flexString      `json:"previousId"`
	Channel           flexString      `json:"channel"`
	Timestamp         json.RawMessage `json:"timestamp"`
	OriginalTimestamp json.RawMessage `json:"originalTimestamp"`
	SentAt            json.RawMessage `json:"sentAt"`
	WriteKey          flexString      `json:"writeKey"`
}

// wireMessage is a message's JSON form as the decoders read it: its objects as text.
type wireMessage struct {
	wireFields
	Context      jsonObject `json:"context"`
	Integrations jsonObject `json:"integrations"`
	Properties   jsonObject `json:"properties"`
	Traits       jsonObject `json:"traits"`
}

// jsonObject is a message object's JSON text, as encoding/json reads it into a wireMessage:
// like json.RawMessage, except that an object met twice merges as encoding/json merged it into
// the map it was decoded into before (the later occurrence's members win; null empties it).
// Its value is checked by wireChecked's decoding (and by objectField), not here.
type jsonObject []byte

func (o *jsonObject) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*o = nil
	case len(*o) > 0 && (*o)[0] == '{' && b[0] == '{':
		merged := mergeObjects(b, json.RawMessage(*o))
		if sameBytes(merged, b) {
			merged = slices.Clone(merged)
		}
		*o = jsonObject(merged)
	default:
		*o = slices.Clone(b)
	}
	return nil
}

// wireChecked is the JSON form with its objects as maps, decoded only on encoding/json's path
// (see decodeSlow) to report what is wrong as it always has: an object member that is not an
// object, or that holds a number beyond float64, is an error in document order among the
// fields' type errors.
type wireChecked struct {
	wireFields
	Context      map[string]any `json:"context"`
	Integrations map[string]any `json:"integrations"`
	Properties   map[string]any `json:"properties"`
	Traits       map[string]any `json:"traits"`
}

// flexString accepts a JSON string, number or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		s, err := Unquote(b)
		if err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*f = flexString(b)
	default:
		kind := "object"
		switch b[0] {
		case '[':
			kind = "array"
		case 't', 'f':
			kind = "bool"
		}
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[string]()}
	}
	return nil
}

// Unquote decodes b, the text of a JSON string value already scanned (one EachMember gives),
// exactly as encoding/json would. The common case, plain valid UTF-8 without escapes, is the
// bytes between the quotes, without calling encoding/json; the rest goes through it (escapes,
// its replacement of invalid UTF-8, and its errors).
func Unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		in := b[1 : len(b)-1]
		plain := utf8.Valid(in)
		for _, c := range in {
			if c < 0x20 || c == '\\' || c == '"' {
				plain = false
				break
			}
		}
		if plain {
			return string(in), nil
		}
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// Decode decodes one JSON message (as a line of an NDJSON import holds it) and validates it.
// Errors are *ValidationError naming the field, or wrap ErrEventTooLarge (over MaxEventBytes).
func Decode(data []byte) (Message, error) {
	m, _, err := decodeAs(data, "")
	return m, err
}

// DecodeAs decodes a message sent to the endpoint of type typ (the body's type, if any, is
// ignored, as Segment does), returning the writeKey the body carries, if any.
func DecodeAs(data []byte, typ string) (Message, string, error) {
	return decodeAs(data, typ)
}

func decodeAs(data []byte, typ string) (Message, string, error) {
	t := bytes.TrimSpace(data)
	if n := len(t); n > MaxEventBytes {
		return Message{}, bodyWriteKey(t), fmt.Errorf("%w: the message is %d bytes; at most %d are accepted", ErrEventTooLarge, n, MaxEventBytes)
	}
	var w wireMessage
	if validJSON(t) && w.decodeFast(t) {
		if m, err := w.message(typ); err == nil {
			return m, string(w.WriteKey), m.Validate()
		}
	}
	return decodeAsSlow(data, typ)
}

// decodeAsSlow is decodeAs on encoding/json's path, which reports what is wrong.
func decodeAsSlow(data []byte, typ string) (Message, string, error) {
	var w wireMessage
	if err := decodeSlow(data, &w, &wireChecked{}); err != nil {
		return Message{}, bodyWriteKey(data), err
	}
	m, err := w.message(typ)
	if err != nil {
		return Message{}, string(w.WriteKey), err
	}
	return m, string(w.WriteKey), m.Validate()
}

// bodyWriteKey is the writeKey string of a body that failed to decode (encoding/json stops at
// the first bad field), so that a client sending its key in the body learns what is wrong with
// the payload (400, 413) rather than that a key is missing (401). "" when there is none.
func bodyWriteKey(data []byte) string {
	var k struct {
		WriteKey json.RawMessage `json:"writeKey"`
	}
	if json.Unmarshal(data, &k) != nil {
		return ""
	}
	key, _ := Unquote(k.WriteKey)
	return key
}

// decodeSlow decodes data into w with encoding/json, after decoding it into checked, whose
// errors are the ones to report (see wireChecked).
func decodeSlow(data []byte, w, checked any) error {
	if err := unmarshal(data, checked); err != nil {
		return err
	}
	return unmarshal(data, w)
}

func (w *wireMessage) message(typ string) (Message, error) {
	if typ == "" {
		typ = w.Type
	}
	m := Message{
		Type: strings.ToLower(strings.TrimSpace(typ)), MessageID: string(w.MessageID),
		UserID: string(w.UserID), AnonymousID: string(w.AnonymousID),
		Event: string(w.Event), Name: string(w.Name), Category: string(w.Category),
		GroupID: string(w.GroupID), PreviousID: string(w.PreviousID), Channel: string(w.Channel),
	}
	var err error
	if m.Context, err = objectField("context", w.Context); err != nil {
		return m, err
	}
	if m.Integrations, err = objectField("integrations", w.Integrations); err != nil {
		return m, err
	}
	if m.Properties, err = objectField("properties", w.Properties); err != nil {
		return m, err
	}
	if m.Traits, err = objectField("traits", w.Traits); err != nil {
		return m, err
	}
	m.markChecked()
	if m.Timestamp, err = parseTime("timestamp", w.Timestamp); err != nil {
		return m, err
	}
	if m.OriginalTimestamp, err = parseTime("originalTimestamp", w.OriginalTimestamp); err != nil {
		return m, err
	}
	if m.SentAt, err = parseTime("sentAt", w.SentAt); err != nil {
		return m, err
	}
	return m, nil
}

// timeLayouts are the timestamp forms accepted, ISO-8601 first.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func parseTime(field string, raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	if raw[0] != '"' {
		// Unix epoch milliseconds (some server libraries send numbers).
		ms, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || ms < 0 || ms > 1e14 {
			return time.Time{}, Invalid(field, "must be an ISO-8601 date string")
		}
		return time.UnixMilli(int64(ms)).UTC(), nil
	}
	s, err := Unquote(raw)
	if err != nil {
		return time.Time{}, Invalid(field, "must be an ISO-8601 date string")
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			if t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, Invalid(field, "is out of range")
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, Invalid(field, "%q is not an ISO-8601 date", truncate(s, 40))
}
