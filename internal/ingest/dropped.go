package ingest

import (
	"errors"
	"strings"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// droppedItem is one entry of a batch response's "dropped" list: an invalid message left out
// of an otherwise stored batch (as Segment's API does, so that clients which treat a 400 as
// final do not lose the valid messages with it).
type droppedItem struct {
	Index int    `json:"index"`           // in the body's batch array
	Field string `json:"field,omitempty"` // e.g. "batch[4].userId"
	Error string `json:"error"`
}

// droppedOf describes err, the error of the item at index of a batch body.
func droppedOf(index int, err error) droppedItem {
	var ve *wire.ValidationError
	if errors.As(err, &ve) {
		return droppedItem{Index: index, Field: ve.Field, Error: ve.Message}
	}
	return droppedItem{Index: index, Error: err.Error()}
}

// invalidFields are the message fields a drop's reason label may name; any other field (such
// as a member of context, which the client chooses) is "invalid", keeping the label's values
// few.
var invalidFields = map[string]bool{
	"type": true, "userId": true, "anonymousId": true, "messageId": true, "event": true, "name": true,
	"groupId": true, "previousId": true, "timestamp": true, "originalTimestamp": true, "sentAt": true,
	"context": true, "integrations": true, "properties": true, "traits": true, "data": true,
}

// dropReason is the reason label of a message dropped for err: "invalid_<field>" naming the
// top-level message field at fault (e.g. "invalid_userId"), "invalid" for another, or
// "too_large".
func dropReason(err error) string {
	if errors.Is(err, wire.ErrEventTooLarge) {
		return "too_large"
	}
	var ve *wire.ValidationError
	if !errors.As(err, &ve) {
		return "invalid"
	}
	field := ve.Field
	if strings.HasPrefix(field, "batch[") {
		if i := strings.IndexByte(field, ']'); i >= 0 {
			field = strings.TrimPrefix(field[i+1:], ".")
		}
	}
	if i := strings.IndexAny(field, ".["); i >= 0 {
		field = field[:i]
	}
	if invalidFields[field] {
		return "invalid_" + field
	}
	return "invalid"
}

// countDropped counts a message dropped for err in cairn_ingest_dropped_events_total.
func (p *Pipeline) countDropped(err error) {
	p.m.dropped.WithLabelValues(dropReason(err)).Inc()
}
