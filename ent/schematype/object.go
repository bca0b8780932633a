// Package schematype holds the Go types of ent fields that are not plain Go values.
package schematype

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Object is a JSON object kept as its encoded text, as PostgreSQL's jsonb answers it. Reading a
// row copies the text instead of decoding it into maps, and GraphQL writes it out unchanged
// (MarshalGQL): decoding every row's object and encoding it again was a fifth of the server's
// CPU on a page of 50 customers. Go code that needs the values decodes them with json.Unmarshal.
//
// The zero value (and JSON null) is the empty object.
type Object []byte

var emptyObject = []byte("{}")

// ObjectOf encodes m; a nil m is the empty object.
func ObjectOf(m map[string]any) (Object, error) {
	if m == nil {
		return Object(emptyObject), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding JSON object: %w", err)
	}
	return Object(b), nil
}

// MustObject is ObjectOf for values known to encode (literals, test data).
func MustObject(m map[string]any) Object {
	o, err := ObjectOf(m)
	if err != nil {
		panic(err)
	}
	return o
}

// MarshalJSON implements json.Marshaler.
func (o Object) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return emptyObject, nil
	}
	return o, nil
}

// UnmarshalJSON implements json.Unmarshaler: json.Unmarshal has checked b's syntax already, so
// this only checks that it is an object (or null) and keeps a copy.
func (o *Object) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*o = nil
	case len(b) > 0 && b[0] == '{':
		*o = append(Object(nil), b...)
	default:
		return errors.New("a JSON object was expected")
	}
	return nil
}

// MarshalGQL writes the object as it is (gqlgen's Map scalar).
func (o Object) MarshalGQL(w io.Writer) {
	b, _ := o.MarshalJSON()
	_, _ = w.Write(b)
}

// UnmarshalGQL takes a GraphQL input object (gqlgen decodes variables and literals to maps).
func (o *Object) UnmarshalGQL(v any) error {
	m, ok := v.(map[string]any)
	if !ok && v != nil {
		return fmt.Errorf("%T is not an object", v)
	}
	enc, err := ObjectOf(m)
	if err != nil {
		return err
	}
	*o = enc
	return nil
}

// Value implements driver.Valuer: the object's text, as jsonb input.
func (o Object) Value() (driver.Value, error) {
	b, _ := o.MarshalJSON()
	return string(b), nil
}

// Scan implements sql.Scanner: a copy of the jsonb text (database/sql reuses its buffers). It
// does not parse it: PostgreSQL only stores valid JSON in a jsonb column.
func (o *Object) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*o = nil
	case []byte:
		*o = append(Object(nil), v...)
	case string:
		*o = Object(v)
	default:
		return fmt.Errorf("cannot scan %T into a JSON object", src)
	}
	return nil
}
