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

	// The objects a decoder produced (in the order of objects()), so Validate need not scan
	// them again. It recognises them by their memory: replace a decoded object rather than
	// change its bytes in place (a batch's messages may share their batch-level context).
	checked [4]json.RawMessage
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
		if !json.Valid(t) {
			return invalid(o.name, "is not valid JSON")
		}
		if _, err := objectField(o.name, t); err != nil { // what the decoders check too
			return err
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
	for i, o := range m.objects() {
		m.checked[i] = o.text
	}
}

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
	key, _ := jsonString(k.WriteKey)
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
			// The path names the embedded structs the fields come from: not the client's concern.
			field := strings.TrimPrefix(strings.TrimPrefix(te.Field, "wireFields."), "wireBatchFields.")
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

// wireBatchFields are a batch body's members but its items and objects (the items are read by
// scanBatch; Batch is there for the type error of a "batch" that is not an array).
type wireBatchFields struct {
	Batch    []json.RawMessage `json:"batch"`
	SentAt   json.RawMessage   `json:"sentAt"`
	WriteKey flexString        `json:"writeKey"`
}

// wireBatch and wireBatchChecked are to a batch body what wireMessage and wireChecked are to a
// message.
type wireBatch struct {
	wireBatchFields
	Context      jsonObject `json:"context"`
	Integrations jsonObject `json:"integrations"`
}

type wireBatchChecked struct {
	wireBatchFields
	Context      map[string]any `json:"context"`
	Integrations map[string]any `json:"integrations"`
}

// ErrEventTooLarge means one message is over MaxEventBytes (HTTP 413).
var ErrEventTooLarge = errors.New("message too large")

// DecodeBatch decodes and validates a batch body. Batch-level context and integrations are
// merged into every message (a message's own keys win) and a batch-level sentAt applies to
// messages without one. Errors are *ValidationError naming the item ("batch[3].event"), or wrap
// ErrEventTooLarge. On an error the returned Batch holds only the write key the body carries.
//
// Well-formed bodies take the fast path (fastdecode.go); the others, and any body with an
// error, encoding/json's, which reads the body in one streaming pass (scanBatch). Errors are
// encoding/json's: a syntax error anywhere wins over everything, then the batch-level fields'
// type errors, then the items' errors in order.
func DecodeBatch(data []byte) (Batch, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Batch{}, invalid("", "the request body is empty")
	}
	if data[0] != '{' {
		return Batch{}, invalid("", "malformed JSON: the body must be a JSON object")
	}
	if w, items, ok := scanBatchFast(data); ok {
		if b, err := batchOf(w, items); err == nil {
			return b, nil
		}
	}
	return decodeBatchSlow(data)
}

// decodeBatchSlow is DecodeBatch on encoding/json's path, which reports what is wrong.
func decodeBatchSlow(data []byte) (Batch, error) {
	items, rest, err := scanBatch(data)
	if err != nil {
		return Batch{}, err
	}
	var w wireBatch
	if err := decodeSlow(rest, &w, &wireBatchChecked{}); err != nil {
		return Batch{WriteKey: batchKey(bodyWriteKey(rest), items)}, err
	}
	return batchOf(w, items)
}

// batchKey is a batch's write key: the body's, else the first item's.
func batchKey(key string, items []batchItem) string {
	for i := 0; key == "" && i < len(items); i++ {
		key = items[i].writeKey
	}
	return key
}

// batchOf makes the Batch of a body's decoded members and items.
func batchOf(w wireBatch, items []batchItem) (Batch, error) {
	// Errors still carry the write key the body holds, so a client that authenticates that way
	// learns what is wrong with its payload rather than that a key is missing.
	failed := func(err error) (Batch, error) {
		return Batch{WriteKey: batchKey(string(w.WriteKey), items)}, err
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

// batchItem is one decoded item of a batch: its size in bytes and its decoding error, kept for
// DecodeBatch to report in order, and the write key it carries (read even when the rest fails,
// as far as encoding/json got).
type batchItem struct {
	wm       wireMessage
	size     int
	err      error
	writeKey string
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
			var raw json.RawMessage
			err := dec.Decode(&raw)
			var se *json.SyntaxError
			if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, nil, syntaxError(err)
			}
			it.size = len(raw)
			var checked wireChecked
			it.err = decodeSlow(raw, &it.wm, &checked)
			it.writeKey = string(checked.WriteKey)
			if it.err != nil {
				it.writeKey = bodyWriteKey(raw)
			}
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
