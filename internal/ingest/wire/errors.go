package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

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

// Invalid returns a ValidationError for field with a formatted message.
func Invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

const msgMissingBatch = "is required: an array of messages"

// IsMissingBatch reports whether err is DecodeBatch's answer to an object without a "batch"
// array (an NDJSON line may hold a single message or a batch).
func IsMissingBatch(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == "batch" && ve.Message == msgMissingBatch
}

// Prefixed returns err with its field under prefix (e.g. "batch[3]").
func Prefixed(prefix string, err error) error {
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

// ErrEventTooLarge means one message is over MaxEventBytes (HTTP 413).
var ErrEventTooLarge = errors.New("message too large")

// unmarshal decodes JSON into v, turning errors into ValidationErrors naming the field.
func unmarshal(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Invalid("", "the request body is empty")
	}
	if data[0] != '{' {
		return Invalid("", "malformed JSON: the body must be a JSON object")
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
			return Invalid(field, "must be a JSON %s, not %s", want, te.Value)
		case errors.As(err, &se):
			return Invalid("", "malformed JSON at byte %d: %s", se.Offset, se.Error())
		}
		return Invalid("", "malformed JSON: %s", err.Error())
	}
	return nil
}

// syntaxError turns a streaming decoder's error into a ValidationError for the whole body.
func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Invalid("", "malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Invalid("", "malformed JSON: unexpected end of JSON input")
	}
	return Invalid("", "malformed JSON: %s", err.Error())
}
