package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

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
	out := Batch{Messages: make([]Message, 0, len(items)), WriteKey: string(w.WriteKey)}
	for i := range items {
		it := &items[i]
		prefix := "batch[" + strconv.Itoa(i) + "]"
		if it.size > MaxEventBytes {
			return failed(fmt.Errorf("%w: %s is %d bytes; at most %d are accepted", ErrEventTooLarge, prefix, it.size, MaxEventBytes))
		}
		if it.err != nil {
			return failed(Prefixed(prefix, it.err))
		}
		m, err := it.wm.message("")
		if err != nil {
			return failed(Prefixed(prefix, err))
		}
		m.Context = mergeObjects(m.Context, shared)
		m.Integrations = mergeObjects(m.Integrations, sharedIntegrations)
		m.markChecked()
		if m.SentAt.IsZero() {
			m.SentAt = sentAt
		}
		if err := m.Validate(); err != nil {
			return failed(Prefixed(prefix, err))
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
				it.err = Invalid("", "malformed JSON: the body must be a JSON object")
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
