package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Batch is a decoded /v1/batch (or /v1/import) body.
type Batch struct {
	Messages []Message // the valid items, in order
	WriteKey string
	// Dropped lists the invalid items DecodeBatchItems left out of Messages, in order.
	Dropped []DroppedItem
	// positions[i] is the index in the body's batch array of Messages[i]; nil when no item was
	// dropped (then it is i).
	positions []int
}

// DroppedItem is an item of a batch body left out because it is invalid.
type DroppedItem struct {
	Index int // in the body's batch array
	// Err is a *ValidationError naming the field ("batch[4].userId"), or wraps ErrEventTooLarge.
	Err error
}

// Position is the index in the body's batch array of b.Messages[i].
func (b *Batch) Position(i int) int {
	if b.positions == nil {
		return i
	}
	return b.positions[i]
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

// DecodeBatch decodes and validates a batch body, failing on its first invalid item: it is
// DecodeBatchItems returning the first item's error. On an error the returned Batch holds only
// the write key the body carries.
func DecodeBatch(data []byte) (Batch, error) {
	b, err := DecodeBatchItems(data)
	if err == nil && len(b.Dropped) > 0 {
		return Batch{WriteKey: b.WriteKey}, b.Dropped[0].Err
	}
	return b, err
}

// DecodeBatchItems decodes and validates a batch body. Batch-level context and integrations
// are merged into every message (a message's own keys win) and a batch-level sentAt applies to
// messages without one. An invalid item (one that is not an object, has a field of the wrong
// type, fails Validate, or is over MaxEventBytes) does not fail the body: it is left out of
// Messages and listed in Dropped, its error naming the item ("batch[3].event"). Errors are for
// the body as a whole (*ValidationError): malformed JSON, no batch array, too many items, a
// batch-level field of the wrong type. On an error the returned Batch holds only the write key
// the body carries.
//
// Well-formed bodies take the fast path (fastdecode.go); the others encoding/json's, which
// reads the body in one streaming pass (scanBatch). An item the fast path decoded that proves
// invalid is decoded again on encoding/json's path, so what is reported is always
// encoding/json's: a syntax error anywhere wins over everything, then the batch-level fields'
// type errors; the items' errors follow in order.
func DecodeBatchItems(data []byte) (Batch, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Batch{}, Invalid("", "the request body is empty")
	}
	if data[0] != '{' {
		return Batch{}, Invalid("", "malformed JSON: the body must be a JSON object")
	}
	if w, items, ok := scanBatchFast(data); ok {
		if b, err := batchOf(w, items); err == nil {
			return b, nil
		}
	}
	return decodeBatchSlow(data)
}

// decodeBatchSlow is DecodeBatchItems on encoding/json's path, which reports what is wrong.
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
		return failed(Invalid("batch", "holds %d messages; at most %d are accepted per request", len(items), MaxBatchSize))
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
	out := Batch{Messages: make([]Message, 0, len(items))}
	for i := range items {
		it := &items[i]
		m, err := it.message(shared, sharedIntegrations, sentAt)
		if err != nil && it.raw != nil {
			// Decoded on the fast path: what is reported is encoding/json's.
			it.decodeSlow(it.raw)
			m, err = it.message(shared, sharedIntegrations, sentAt)
		}
		if err != nil {
			if out.positions == nil {
				out.positions = make([]int, len(out.Messages), len(items))
				for j := range out.positions {
					out.positions[j] = j
				}
			}
			prefix := "batch[" + strconv.Itoa(i) + "]"
			if errors.Is(err, ErrEventTooLarge) {
				err = fmt.Errorf("%w: %s is %d bytes; at most %d are accepted", ErrEventTooLarge, prefix, it.size, MaxEventBytes)
			} else {
				err = Prefixed(prefix, err)
			}
			out.Dropped = append(out.Dropped, DroppedItem{Index: i, Err: err})
			continue
		}
		if out.positions != nil {
			out.positions = append(out.positions, i)
		}
		out.Messages = append(out.Messages, m)
	}
	out.WriteKey = batchKey(string(w.WriteKey), items)
	return out, nil
}

// message is the Message of it, with the batch-level objects merged in and the batch-level
// sentAt applied, or why it is invalid (unprefixed).
func (it *batchItem) message(shared, sharedIntegrations json.RawMessage, sentAt time.Time) (Message, error) {
	if it.size > MaxEventBytes {
		return Message{}, ErrEventTooLarge
	}
	if it.err != nil {
		return Message{}, it.err
	}
	m, err := it.wm.message("")
	if err != nil {
		return Message{}, err
	}
	m.Context = mergeObjects(m.Context, shared)
	m.Integrations = mergeObjects(m.Integrations, sharedIntegrations)
	m.markChecked()
	if m.SentAt.IsZero() {
		m.SentAt = sentAt
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// batchItem is one decoded item of a batch: its size in bytes and its decoding error, kept for
// DecodeBatch to report in order, and the write key it carries (read even when the rest fails,
// as far as encoding/json got).
type batchItem struct {
	wm       wireMessage
	size     int
	err      error
	writeKey string
	// raw is the item's text when the fast path decoded it (nil on encoding/json's path).
	raw []byte
}

// decodeSlow decodes raw, the text of one item (an object), on encoding/json's path.
func (it *batchItem) decodeSlow(raw []byte) {
	*it = batchItem{size: len(raw)}
	var checked wireChecked
	it.err = decodeSlow(raw, &it.wm, &checked)
	it.writeKey = string(checked.WriteKey)
	if it.err != nil {
		it.writeKey = bodyWriteKey(raw)
	}
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
				it.err = Invalid("", "malformed JSON: the body must be a JSON object")
				continue
			}
			var raw json.RawMessage
			err := dec.Decode(&raw)
			var se *json.SyntaxError
			if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, nil, syntaxError(err)
			}
			it.decodeSlow(raw)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, nil, syntaxError(err)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, syntaxError(err)
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(data[off:])) > 0 {
		return nil, nil, Invalid("", "malformed JSON at byte %d: invalid character after top-level value", off+1)
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
