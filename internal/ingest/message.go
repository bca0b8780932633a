package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Limits of the tracking API (Segment's own).
const (
	MaxEventBytes   = 32 << 10  // one message
	MaxRequestBytes = 500 << 10 // one request body, after gzip decompression
	MaxBatchSize    = 2500      // messages in one batch
	MaxMessageIDLen = 100
	maxEventNameLen = 512
	maxIDLen        = 512
)

// Message types of the Segment Spec.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

// Message is one Segment Spec message (https://segment.com/docs/connections/spec/common/). Build
// one with Decode or by hand; Validate reports what is wrong with it, naming the field.
type Message struct {
	Type        string `json:"type"`
	MessageID   string `json:"messageId,omitempty"` // generated when empty
	UserID      string `json:"userId,omitempty"`
	AnonymousID string `json:"anonymousId,omitempty"`
	Event       string `json:"event,omitempty"`      // track
	Name        string `json:"name,omitempty"`       // page, screen
	Category    string `json:"category,omitempty"`   // page
	GroupID     string `json:"groupId,omitempty"`    // group
	PreviousID  string `json:"previousId,omitempty"` // alias
	Channel     string `json:"channel,omitempty"`    // browser, mobile, server (optional)
	// Timestamp is when the event happened; when zero it is derived from OriginalTimestamp and
	// SentAt, correcting the client's clock skew (see EventTime).
	Timestamp         time.Time `json:"timestamp,omitzero"`
	OriginalTimestamp time.Time `json:"originalTimestamp,omitzero"`
	SentAt            time.Time `json:"sentAt,omitzero"`
	// Context, Integrations, Properties and Traits are the message's objects as JSON text (nil
	// when absent or null). The decoders keep them as sent: prepare reads the few members it
	// needs and stores the rest as is, where decoding them into maps was half the decoders' CPU
	// and re-encoding them another tenth. Build them by hand with json.Marshal.
	Context      json.RawMessage `json:"context,omitempty"`
	Integrations json.RawMessage `json:"integrations,omitempty"`
	Properties   json.RawMessage `json:"properties,omitempty"` // track, page, screen
	Traits       json.RawMessage `json:"traits,omitempty"`     // identify, group

	checked [4]json.RawMessage // the objects a decoder produced, so Validate need not scan them again
}

// ValidationError says which field of a payload is wrong; the HTTP API answers it with a 400.
type ValidationError struct {
	Field   string // e.g. "userId", "batch[3].event", "" for the whole body
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

const msgMissingBatch = "is required: an array of messages"

// IsMissingBatch reports whether err is DecodeBatch's answer to an object without a "batch"
// array (an NDJSON line may hold a single message or a batch).
func IsMissingBatch(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == "batch" && ve.Message == msgMissingBatch
}

// prefixed returns err with its field under prefix (e.g. "batch[3]").
func prefixed(prefix string, err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		field := prefix
		if ve.Field != "" {
			field += "." + ve.Field
		}
		return &ValidationError{Field: field, Message: ve.Message}
	}
	return err
}

// Validate checks m against the Spec and Cairn's limits.
func (m *Message) Validate() error {
	switch m.Type {
	case TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias:
	case "":
		return invalid("type", "is required (identify, track, page, screen, group or alias)")
	default:
		return invalid("type", "unknown message type %q (want identify, track, page, screen, group or alias)", truncate(m.Type, 40))
	}
	if strings.TrimSpace(m.UserID) == "" && strings.TrimSpace(m.AnonymousID) == "" {
		return invalid("userId", "userId or anonymousId is required")
	}
	if len(m.MessageID) > MaxMessageIDLen {
		return invalid("messageId", "is longer than %d characters", MaxMessageIDLen)
	}
	// In a fixed order (a map literal here allocated per message and named a random field first).
	for _, f := range [...]struct{ name, v string }{
		{"userId", m.UserID}, {"anonymousId", m.AnonymousID}, {"groupId", m.GroupID}, {"previousId", m.PreviousID},
	} {
		if len(f.v) > maxIDLen {
			return invalid(f.name, "is longer than %d bytes", maxIDLen)
		}
	}
	switch m.Type {
	case TypeTrack:
		if strings.TrimSpace(m.Event) == "" {
			return invalid("event", "is required for a track call")
		}
	case TypeAlias:
		if strings.TrimSpace(m.PreviousID) == "" {
			return invalid("previousId", "is required for an alias call")
		}
	case TypeGroup:
		if strings.TrimSpace(m.GroupID) == "" {
			return invalid("groupId", "is required for a group call")
		}
	}
	if utf8.RuneCountInString(m.Event) > maxEventNameLen {
		return invalid("event", "is longer than %d characters", maxEventNameLen)
	}
	if utf8.RuneCountInString(m.Name) > maxEventNameLen {
		return invalid("name", "is longer than %d characters", maxEventNameLen)
	}
	for i, o := range m.objects() {
		if len(o.text) == 0 || sameBytes(o.text, m.checked[i]) {
			continue
		}
		t := bytes.TrimSpace(o.text)
		if string(t) == "null" {
			continue
		}
		if len(t) == 0 || t[0] != '{' {
			return invalid(o.name, "must be a JSON object")
		}
		if !json.Valid(t) {
			return invalid(o.name, "is not valid JSON")
		}
	}
	return nil
}

type namedObject struct {
	name string
	text json.RawMessage
}

// objects lists m's objects, in the order of m.checked.
func (m *Message) objects() [4]namedObject {
	return [4]namedObject{{"context", m.Context}, {"integrations", m.Integrations}, {"properties", m.Properties}, {"traits", m.Traits}}
}

// markChecked records m's objects as checked (a decoder made them).
func (m *Message) markChecked() {
	m.checked = [4]json.RawMessage{m.Context, m.Integrations, m.Properties, m.Traits}
}

// sameBytes reports whether a and b are the same bytes in memory (not merely equal).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// object returns text, a JSON object as Validate accepts it, trimmed; nil for null or none.
func object(text json.RawMessage) []byte {
	t := bytes.TrimSpace(text)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	return t
}

// objectField checks that raw, a decoded member's value, is an object or null (nil for null).
func objectField(name string, raw json.RawMessage) (json.RawMessage, error) {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '{':
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
	return nil, invalid(name, "must be a JSON object, not %s", kind)
}

// wireMessage is the JSON form, lenient where Segment's libraries are (ids may be numbers).
type wireMessage struct {
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
	Context           json.RawMessage `json:"context"`
	Integrations      json.RawMessage `json:"integrations"`
	Properties        json.RawMessage `json:"properties"`
	Traits            json.RawMessage `json:"traits"`
	WriteKey          flexString      `json:"writeKey"`
}

// flexString accepts a JSON string, number or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		s, err := jsonString(b)
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

// jsonString decodes b, the text of a JSON string value the decoder has already scanned. The
// common case, plain valid UTF-8 without escapes, is the bytes between the quotes; the rest
// goes through encoding/json (escapes, its replacement of invalid UTF-8, and its errors).
// Calling json.Unmarshal for every string field (messageId, userId, the three timestamps…)
// was a fifth of DecodeBatch's CPU.
func jsonString(b []byte) (string, error) {
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
	if n := len(bytes.TrimSpace(data)); n > MaxEventBytes {
		return Message{}, "", fmt.Errorf("%w: the message is %d bytes; at most %d are accepted", ErrEventTooLarge, n, MaxEventBytes)
	}
	var w wireMessage
	if t := bytes.TrimSpace(data); !validJSON(t) || !w.decodeFast(t) {
		w = wireMessage{}
		if err := unmarshal(data, &w); err != nil {
			return Message{}, "", err
		}
	}
	m, err := w.message(typ)
	if err != nil {
		return Message{}, string(w.WriteKey), err
	}
	return m, string(w.WriteKey), m.Validate()
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

// unmarshal decodes JSON into v, turning errors into ValidationErrors naming the field.
func unmarshal(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return invalid("", "the request body is empty")
	}
	if data[0] != '{' {
		return invalid("", "malformed JSON: the body must be a JSON object")
	}
	return unmarshalError(json.Unmarshal(data, v))
}

// unmarshalError turns a json decoding error into a ValidationError naming the field (nil for nil).
func unmarshalError(err error) error {
	if err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			want := te.Type.String()
			if strings.HasPrefix(want, "map[") {
				want = "object"
			} else if strings.Contains(want, "flexString") {
				want = "string"
			} else if strings.HasPrefix(want, "[]") {
				want = "array"
			}
			return invalid(field, "must be a JSON %s, not %s", want, te.Value)
		case errors.As(err, &se):
			return invalid("", "malformed JSON at byte %d: %s", se.Offset, se.Error())
		}
		return invalid("", "malformed JSON: %s", err.Error())
	}
	return nil
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
			return time.Time{}, invalid(field, "must be an ISO-8601 date string")
		}
		return time.UnixMilli(int64(ms)).UTC(), nil
	}
	s, err := jsonString(raw)
	if err != nil {
		return time.Time{}, invalid(field, "must be an ISO-8601 date string")
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			if t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, invalid(field, "is out of range")
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid(field, "%q is not an ISO-8601 date", truncate(s, 40))
}

// Batch is a decoded /v1/batch (or /v1/import) body.
type Batch struct {
	Messages []Message
	WriteKey string
}

type wireBatch struct {
	Batch        []json.RawMessage `json:"batch"`
	Context      json.RawMessage   `json:"context"`
	Integrations json.RawMessage   `json:"integrations"`
	SentAt       json.RawMessage   `json:"sentAt"`
	WriteKey     flexString        `json:"writeKey"`
}

// ErrEventTooLarge means one message is over MaxEventBytes (HTTP 413).
var ErrEventTooLarge = errors.New("message too large")

// DecodeBatch decodes and validates a batch body. Batch-level context and integrations are
// merged into every message (a message's own keys win) and a batch-level sentAt applies to
// messages without one. Errors are *ValidationError naming the item ("batch[3].event"), or wrap
// ErrEventTooLarge. On an error the returned Batch holds only the write key the body carries.
//
// The body is read in one streaming pass: each item is scanned and decoded once (decoding the
// body into []json.RawMessage and then each item again validated every byte twice more, about a
// third of the decoding CPU of BenchmarkBatchHTTP). Errors are the same as that two-step form's:
// a syntax error anywhere wins over everything, then the batch-level fields' type errors, then
// the items' errors in order.
func DecodeBatch(data []byte) (Batch, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Batch{}, invalid("", "the request body is empty")
	}
	if data[0] != '{' {
		return Batch{}, invalid("", "malformed JSON: the body must be a JSON object")
	}
	w, items, ok := scanBatchFast(data)
	if !ok {
		var rest []byte
		var err error
		if items, rest, err = scanBatch(data); err != nil {
			return Batch{}, err
		}
		w = wireBatch{}
		if err := unmarshal(rest, &w); err != nil {
			return Batch{}, err
		}
	}
	// Errors still carry the write key the body holds, so a client that authenticates that way
	// learns what is wrong with its payload rather than that a key is missing.
	failed := func(err error) (Batch, error) {
		key := string(w.WriteKey)
		for i := 0; key == "" && i < len(items); i++ {
			key = string(items[i].wm.WriteKey)
		}
		return Batch{WriteKey: key}, err
	}
	if items == nil {
		return failed(&ValidationError{Field: "batch", Message: msgMissingBatch})
	}
	if len(items) > MaxBatchSize {
		return failed(invalid("batch", "holds %d messages; at most %d are accepted per request", len(items), MaxBatchSize))
	}
	shared, err := objectField("context", w.Context)
	if err != nil {
		return failed(err)
	}
	sharedIntegrations, err := objectField("integrations", w.Integrations)
	if err != nil {
		return failed(err)
	}
	sentAt, err := parseTime("sentAt", w.SentAt)
	if err != nil {
		return failed(err)
	}
	out := Batch{Messages: make([]Message, 0, len(items)), WriteKey: string(w.WriteKey)}
	for i := range items {
		it := &items[i]
		prefix := "batch[" + strconv.Itoa(i) + "]"
		if it.size > MaxEventBytes {
			return failed(fmt.Errorf("%w: %s is %d bytes; at most %d are accepted", ErrEventTooLarge, prefix, it.size, MaxEventBytes))
		}
		if it.err != nil {
			return failed(prefixed(prefix, it.err))
		}
		m, err := it.wm.message("")
		if err != nil {
			return failed(prefixed(prefix, err))
		}
		m.Context = mergeObjects(m.Context, shared)
		m.Integrations = mergeObjects(m.Integrations, sharedIntegrations)
		m.markChecked()
		if m.SentAt.IsZero() {
			m.SentAt = sentAt
		}
		if err := m.Validate(); err != nil {
			return failed(prefixed(prefix, err))
		}
		if out.WriteKey == "" {
			out.WriteKey = string(it.wm.WriteKey)
		}
		out.Messages = append(out.Messages, m)
	}
	return out, nil
}

// The fast path. encoding/json scans every value twice (once to find where it ends, once to
// decode it), and decoding a batch that way was two thirds of DecodeBatch. Instead, the body is
// validated in one pass by jsontext (encoding/json/v2's syntax layer, 4x faster than
// json.Valid) and the known fields are then read with eachMember. It handles what well-formed
// clients send; for anything else (invalid JSON, a value of the wrong type, a key that is not
// plain ASCII, an oversized item) it reports false and DecodeBatch takes encoding/json's path,
// so that errors, and what is accepted, stay exactly encoding/json's.
// FuzzFastDecodeMatches checks that both paths decode alike.

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
	err := eachMember(data, func(key, value []byte) error {
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
			w.Context = slices.Clone(json.RawMessage(value))
		case bytes.EqualFold(key, []byte("integrations")):
			w.Integrations = slices.Clone(json.RawMessage(value))
		case bytes.EqualFold(key, []byte("sentAt")):
			w.SentAt = slices.Clone(json.RawMessage(value))
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
		items[i].size = len(raw)
		if !items[i].wm.decodeFast(raw) {
			return w, nil, false
		}
	}
	return w, items, true
}

// decodeFast decodes obj, a valid JSON object, into w as encoding/json would, reporting false
// (w then half-filled) when obj holds a key that is not plain ASCII or a value of the wrong type.
func (w *wireMessage) decodeFast(obj []byte) bool {
	err := eachMember(obj, func(key, value []byte) error {
		if !plainKey(key) {
			return errSlowPath
		}
		if f := w.flexField(key); f != nil {
			return setFlex(f, value)
		}
		if f := w.rawField(key); f != nil {
			*f = slices.Clone(json.RawMessage(value))
			return nil
		}
		if bytes.EqualFold(key, []byte("type")) {
			switch value[0] {
			case 'n': // null leaves a string as it is
			case '"':
				s, err := jsonString(value)
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

// flexField is w's flexString field named key (matched as encoding/json matches), or nil.
func (w *wireMessage) flexField(key []byte) *flexString {
	for _, f := range [...]struct {
		name string
		dst  *flexString
	}{
		{"messageId", &w.MessageID}, {"userId", &w.UserID}, {"anonymousId", &w.AnonymousID},
		{"event", &w.Event}, {"name", &w.Name}, {"category", &w.Category}, {"groupId", &w.GroupID},
		{"previousId", &w.PreviousID}, {"channel", &w.Channel}, {"writeKey", &w.WriteKey},
	} {
		if bytes.EqualFold(key, []byte(f.name)) {
			return f.dst
		}
	}
	return nil
}

// rawField is w's json.RawMessage field named key, or nil.
func (w *wireMessage) rawField(key []byte) *json.RawMessage {
	for _, f := range [...]struct {
		name string
		dst  *json.RawMessage
	}{
		{"timestamp", &w.Timestamp}, {"originalTimestamp", &w.OriginalTimestamp}, {"sentAt", &w.SentAt},
		{"context", &w.Context}, {"integrations", &w.Integrations}, {"properties", &w.Properties}, {"traits", &w.Traits},
	} {
		if bytes.EqualFold(key, []byte(f.name)) {
			return f.dst
		}
	}
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

// eachElement calls fn with the text of each element of arr, a valid JSON array, in order.
func eachElement(arr []byte, fn func(value []byte) error) error {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return errNotObject
	}
	i++
	for {
		i = skipSpace(arr, i)
		if i >= len(arr) {
			return errNotObject
		}
		switch arr[i] {
		case ']':
			return nil
		case ',':
			i++
			continue
		}
		end, ok := skipValue(arr, i)
		if !ok {
			return errNotObject
		}
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = end
	}
}

// batchItem is one decoded item of a batch: its size in bytes and its decoding error, kept for
// DecodeBatch to report in order.
type batchItem struct {
	wm   wireMessage
	size int
	err  error
}

// scanBatch streams through the body object (data, trimmed, starting with '{'): it decodes the
// items of its "batch" array (nil when absent or null) and returns the other members
// re-assembled as an object for unmarshal, which names their fields in type errors ("batch" too
// when it is not an array).
func scanBatch(data []byte) ([]batchItem, []byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	rest := []byte{'{'}
	addRest := func(key string, raw []byte) {
		if len(rest) > 1 {
			rest = append(rest, ',')
		}
		k, _ := json.Marshal(key)
		rest = append(rest, k...)
		rest = append(rest, ':')
		rest = append(rest, raw...)
	}
	if _, err := dec.Token(); err != nil { // '{'
		return nil, nil, syntaxError(err)
	}
	var items []batchItem
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, syntaxError(err)
		}
		key, _ := tok.(string)
		if !strings.EqualFold(key, "batch") || nextByte(data, dec.InputOffset(), ":") != '[' {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, nil, syntaxError(err)
			}
			if strings.EqualFold(key, "batch") {
				items = nil // null, or not an array: unmarshal reports which
			}
			addRest(key, raw)
			continue
		}
		if _, err := dec.Token(); err != nil { // '['
			return nil, nil, syntaxError(err)
		}
		items = make([]batchItem, 0, 128)
		for dec.More() {
			start := dec.InputOffset()
			items = append(items, batchItem{})
			it := &items[len(items)-1]
			if nextByte(data, start, ",") != '{' {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return nil, nil, syntaxError(err)
				}
				it.size = len(raw)
				it.err = invalid("", "malformed JSON: the body must be a JSON object")
				continue
			}
			err := dec.Decode(&it.wm)
			var se *json.SyntaxError
			if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, nil, syntaxError(err)
			}
			it.err = unmarshalError(err)
			it.size = len(bytes.TrimLeft(data[start:dec.InputOffset()], " \t\r\n,"))
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, nil, syntaxError(err)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, syntaxError(err)
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(data[off:])) > 0 {
		return nil, nil, invalid("", "malformed JSON at byte %d: invalid character after top-level value", off+1)
	}
	return items, append(rest, '}'), nil
}

// nextByte is the first byte of data from off that is neither JSON whitespace nor in skip (0 at
// the end).
func nextByte(data []byte, off int64, skip string) byte {
	for _, c := range data[off:] {
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case strings.IndexByte(skip, c) >= 0:
		default:
			return c
		}
	}
	return 0
}

// syntaxError turns a streaming decoder's error into a ValidationError for the whole body.
func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid("", "malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("", "malformed JSON: unexpected end of JSON input")
	}
	return invalid("", "malformed JSON: %s", err.Error())
}

// mergeObjects returns the JSON object own with the members of shared it lacks: shared's
// members, then own's. A key both have then appears twice and the later one, own's, is the
// one that counts, for jsonb as for encoding/json and eachMember.
func mergeObjects(own, shared json.RawMessage) json.RawMessage {
	if emptyObject(shared) {
		return own
	}
	if emptyObject(own) {
		return shared
	}
	s, o := bytes.TrimSpace(shared), bytes.TrimSpace(own)
	out := make(json.RawMessage, 0, len(s)+len(o))
	out = append(out, s[:len(s)-1]...)
	out = append(out, ',')
	return append(out, o[1:]...)
}

// emptyObject reports whether text, a valid JSON object or nil, has no members.
func emptyObject(text []byte) bool {
	t := bytes.TrimSpace(text)
	return len(t) == 0 || len(bytes.TrimSpace(t[1:len(t)-1])) == 0
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// storable reports whether a JSON object's text can be stored in a jsonb column as is, meaning
// the same as decoding and re-encoding it: valid UTF-8 (the decoder replaces invalid bytes) and
// no \u escapes (\u0000 and lone surrogates, which the decoder replaces and jsonb refuses).
func storable(raw []byte) bool {
	return len(raw) > 0 && raw[0] == '{' && !bytes.Contains(raw, []byte(`\u`)) && utf8.Valid(raw)
}

// eachMember calls fn with the key and the value text of each top-level member of obj, a valid
// JSON object, in order, stopping at fn's first error. Keys are unescaped; a key that appears
// twice is met twice, and the later one is the one a decoder keeps.
func eachMember(obj []byte, fn func(key, value []byte) error) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errNotObject
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return errNotObject
		}
		switch obj[i] {
		case '}':
			return nil
		case ',':
			i++
			continue
		case '"':
		default:
			return errNotObject
		}
		j := stringEnd(obj, i+1)
		if j < 0 {
			return errNotObject
		}
		key := obj[i+1 : j]
		if bytes.IndexByte(key, '\\') >= 0 {
			k, err := jsonString(obj[i : j+1])
			if err != nil {
				return errNotObject
			}
			key = []byte(k)
		}
		i = skipSpace(obj, j+1)
		if i >= len(obj) || obj[i] != ':' {
			return errNotObject
		}
		i = skipSpace(obj, i+1)
		end, ok := skipValue(obj, i)
		if !ok {
			return errNotObject
		}
		if err := fn(key, obj[i:end]); err != nil {
			return err
		}
		i = end
	}
}

var errNotObject = errors.New("not a JSON object")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the JSON string whose text starts at b[i]
// (just after its opening quote), or -1. It jumps from quote to quote with bytes.IndexByte,
// which is vectorised: strings are most of a message's bytes, and the byte-at-a-time loop
// this replaces was 14% of DecodeBatch. Short strings (keys, most values) end before the call
// would pay off, so the first bytes are looked at one by one.
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
