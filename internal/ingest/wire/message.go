package wire

import (
	"bytes"
	"encoding/json"
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
	// Timestamp and OriginalTimestamp are when the event happened by the client's clock (the
	// latter wins); with SentAt, the stored time is corrected for the client's clock skew (see
	// ingest.EventTime).
	Timestamp         time.Time `json:"timestamp,omitzero"`
	OriginalTimestamp time.Time `json:"originalTimestamp,omitzero"`
	SentAt            time.Time `json:"sentAt,omitzero"`
	// Context, Integrations, Properties and Traits are the message's objects as JSON text (nil
	// when absent or null). The decoders keep them as sent, never decoding them into maps:
	// package ingest reads the few members it needs and stores the rest as is. Build them by
	// hand with json.Marshal.
	Context      json.RawMessage `json:"context,omitempty"`
	Integrations json.RawMessage `json:"integrations,omitempty"`
	Properties   json.RawMessage `json:"properties,omitempty"` // track, page, screen
	Traits       json.RawMessage `json:"traits,omitempty"`     // identify, group

	// The objects a decoder produced (in the order of objects()), so Validate need not scan
	// them again. It recognises them by their memory: replace a decoded object rather than
	// change its bytes in place (a batch's messages may share their batch-level context).
	checked [4]json.RawMessage
}

// Validate checks m against the Spec and Cairn's limits.
func (m *Message) Validate() error {
	switch m.Type {
	case TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias:
	case "":
		return Invalid("type", "is required (identify, track, page, screen, group or alias)")
	default:
		return Invalid("type", "unknown message type %q (want identify, track, page, screen, group or alias)", truncate(m.Type, 40))
	}
	if strings.TrimSpace(m.UserID) == "" && strings.TrimSpace(m.AnonymousID) == "" {
		return Invalid("userId", "userId or anonymousId is required")
	}
	if len(m.MessageID) > MaxMessageIDLen {
		return Invalid("messageId", "is longer than %d characters", MaxMessageIDLen)
	}
	// In a fixed order, so the first field over the limit is the one named; no allocation.
	for _, f := range [...]struct{ name, v string }{
		{"userId", m.UserID}, {"anonymousId", m.AnonymousID}, {"groupId", m.GroupID}, {"previousId", m.PreviousID},
	} {
		if len(f.v) > maxIDLen {
			return Invalid(f.name, "is longer than %d bytes", maxIDLen)
		}
	}
	switch m.Type {
	case TypeTrack:
		if strings.TrimSpace(m.Event) == "" {
			return Invalid("event", "is required for a track call")
		}
	case TypeAlias:
		if strings.TrimSpace(m.PreviousID) == "" {
			return Invalid("previousId", "is required for an alias call")
		}
	case TypeGroup:
		if strings.TrimSpace(m.GroupID) == "" {
			return Invalid("groupId", "is required for a group call")
		}
	}
	if utf8.RuneCountInString(m.Event) > maxEventNameLen {
		return Invalid("event", "is longer than %d characters", maxEventNameLen)
	}
	if utf8.RuneCountInString(m.Name) > maxEventNameLen {
		return Invalid("name", "is longer than %d characters", maxEventNameLen)
	}
	for i, o := range m.objects() {
		if len(o.text) == 0 || sameBytes(o.text, m.checked[i]) {
			continue
		}
		t := bytes.TrimSpace(o.text)
		if !json.Valid(t) {
			return Invalid(o.name, "is not valid JSON")
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
