package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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
	Timestamp         time.Time      `json:"timestamp,omitzero"`
	OriginalTimestamp time.Time      `json:"originalTimestamp,omitzero"`
	SentAt            time.Time      `json:"sentAt,omitzero"`
	Context           map[string]any `json:"context,omitempty"`
	Integrations      map[string]any `json:"integrations,omitempty"`
	Properties        map[string]any `json:"properties,omitempty"` // track, page, screen
	Traits            map[string]any `json:"traits,omitempty"`     // identify, group
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
	for field, v := range map[string]string{"userId": m.UserID, "anonymousId": m.AnonymousID, "groupId": m.GroupID, "previousId": m.PreviousID} {
		if len(v) > maxIDLen {
			return invalid(field, "is longer than %d bytes", maxIDLen)
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
	return nil
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
	Context           map[string]any  `json:"context"`
	Integrations      map[string]any  `json:"integrations"`
	Properties        map[string]any  `json:"properties"`
	Traits            map[string]any  `json:"traits"`
	WriteKey          flexString      `json:"writeKey"`
}

// flexString accepts a JSON string, number or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
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

// Decode decodes one JSON message (as a line of an NDJSON import holds it) and validates it.
// Errors are *ValidationError naming the field.
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
	var w wireMessage
	if err := unmarshal(data, &w); err != nil {
		return Message{}, "", err
	}
	m, err := w.message(typ)
	if err != nil {
		return Message{}, "", err
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
		Context: w.Context, Integrations: w.Integrations, Properties: w.Properties, Traits: w.Traits,
	}
	var err error
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
	if err := json.Unmarshal(data, v); err != nil {
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
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
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
	Context      map[string]any    `json:"context"`
	Integrations map[string]any    `json:"integrations"`
	SentAt       json.RawMessage   `json:"sentAt"`
	WriteKey     flexString        `json:"writeKey"`
}

// ErrEventTooLarge means one message is over MaxEventBytes (HTTP 413).
var ErrEventTooLarge = errors.New("message too large")

// DecodeBatch decodes and validates a batch body. Batch-level context and integrations are
// merged into every message (a message's own keys win) and a batch-level sentAt applies to
// messages without one. Errors are *ValidationError naming the item ("batch[3].event"), or wrap
// ErrEventTooLarge.
func DecodeBatch(data []byte) (Batch, error) {
	var w wireBatch
	if err := unmarshal(data, &w); err != nil {
		return Batch{}, err
	}
	if w.Batch == nil {
		return Batch{}, invalid("batch", "is required: an array of messages")
	}
	if len(w.Batch) > MaxBatchSize {
		return Batch{}, invalid("batch", "holds %d messages; at most %d are accepted per request", len(w.Batch), MaxBatchSize)
	}
	sentAt, err := parseTime("sentAt", w.SentAt)
	if err != nil {
		return Batch{}, err
	}
	out := Batch{Messages: make([]Message, 0, len(w.Batch)), WriteKey: string(w.WriteKey)}
	for i, raw := range w.Batch {
		prefix := fmt.Sprintf("batch[%d]", i)
		if len(raw) > MaxEventBytes {
			return Batch{}, fmt.Errorf("%w: %s is %d bytes; at most %d are accepted", ErrEventTooLarge, prefix, len(raw), MaxEventBytes)
		}
		var wm wireMessage
		if err := unmarshal(raw, &wm); err != nil {
			return Batch{}, prefixed(prefix, err)
		}
		m, err := wm.message("")
		if err != nil {
			return Batch{}, prefixed(prefix, err)
		}
		m.Context = mergeShallow(m.Context, w.Context)
		m.Integrations = mergeShallow(m.Integrations, w.Integrations)
		if m.SentAt.IsZero() {
			m.SentAt = sentAt
		}
		if err := m.Validate(); err != nil {
			return Batch{}, prefixed(prefix, err)
		}
		if out.WriteKey == "" {
			out.WriteKey = string(wm.WriteKey)
		}
		out.Messages = append(out.Messages, m)
	}
	return out, nil
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
