package pgcopy

import "strconv"

// JSON builds a json/jsonb column value for COPY from trusted vocabularies: keys and string
// values are written as given, without escaping, so it is only for generated data (seed, bench),
// never for user input.
type JSON struct {
	B     []byte // the JSON written so far
	comma bool   // a value was just written at this level
}

// Reset empties the buffer, keeping its capacity.
func (w *JSON) Reset() { w.B, w.comma = w.B[:0], false }

func (w *JSON) sep() {
	if w.comma {
		w.B = append(w.B, ',')
	}
}

// Obj opens an object (as a value: after Key, in an array, or at the top).
func (w *JSON) Obj() { w.sep(); w.B = append(w.B, '{'); w.comma = false }

// End closes an object.
func (w *JSON) End() { w.B = append(w.B, '}'); w.comma = true }

// Arr opens an array.
func (w *JSON) Arr() { w.sep(); w.B = append(w.B, '['); w.comma = false }

// EndArr closes an array.
func (w *JSON) EndArr() { w.B = append(w.B, ']'); w.comma = true }

// Key writes an object key; the next call writes its value.
func (w *JSON) Key(k string) {
	w.sep()
	w.B = append(w.B, '"')
	w.B = append(w.B, k...)
	w.B = append(w.B, '"', ':')
	w.comma = false
}

// Value writes a raw value after Key with appendValue.
func (w *JSON) Value(appendValue func([]byte) []byte) {
	w.sep()
	w.B = appendValue(w.B)
	w.comma = true
}

// Str writes "k": "v".
func (w *JSON) Str(k, v string) {
	w.Key(k)
	w.B = append(w.B, '"')
	w.B = append(w.B, v...)
	w.B = append(w.B, '"')
	w.comma = true
}

// Num writes "k": v.
func (w *JSON) Num(k string, v float64) {
	w.Key(k)
	w.B = strconv.AppendFloat(w.B, v, 'f', -1, 64)
	w.comma = true
}

// Int writes "k": v.
func (w *JSON) Int(k string, v int64) {
	w.Key(k)
	w.B = strconv.AppendInt(w.B, v, 10)
	w.comma = true
}
