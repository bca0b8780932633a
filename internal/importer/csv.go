package importer

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// topLevel maps a CSV column name (case-insensitive, underscores ignored) to the message field.
var topLevel = map[string]string{
	"type": "type", "userid": "userId", "anonymousid": "anonymousId", "event": "event",
	"messageid": "messageId", "timestamp": "timestamp", "name": "name", "category": "category",
	"groupid": "groupId", "previousid": "previousId", "channel": "channel", "sentat": "sentAt",
	"originaltimestamp": "originalTimestamp",
}

// nestedRoots are the objects dotted columns may build.
var nestedRoots = map[string]string{
	"traits": "traits", "properties": "properties", "context": "context", "integrations": "integrations",
}

// column is where a CSV column's values go: a top-level field, or a path in a nested object.
type column struct {
	path []string // e.g. ["userId"] or ["properties", "revenue"] or ["context", "page", "path"]
}

// csvReader reads a header row and then one message per record. Empty cells are left out;
// in nested objects, cells that read as JSON numbers or true/false become numbers or booleans
// (so properties.revenue is numeric), everything else stays a string.
type csvReader struct {
	r    *csv.Reader
	cr   *countingReader
	cols []column
	skip int
	seq  int
}

func newCSVReader(cr *countingReader, skip int) (*csvReader, error) {
	r := csv.NewReader(cr)
	r.LazyQuotes = true
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the CSV file is empty: it needs a header row (type,userId,anonymousId,event,messageId,timestamp,…)")
	}
	if err != nil {
		return nil, fmt.Errorf("error reading the CSV header: %w", err)
	}
	cols, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	r.FieldsPerRecord = len(cols)
	return &csvReader{r: r, cr: cr, cols: cols, skip: skip}, nil
}

func parseHeader(header []string) ([]column, error) {
	cols := make([]column, len(header))
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // a BOM some spreadsheets write
		if h == "" {
			return nil, fmt.Errorf("CSV header: column %d has no name", i+1)
		}
		var path []string
		if root, rest, dotted := strings.Cut(h, "."); dotted {
			r, ok := nestedRoots[strings.ToLower(root)]
			if !ok {
				return nil, fmt.Errorf("CSV header: column %q: dotted columns must start with traits., properties., context. or integrations.", h)
			}
			path = append([]string{r}, strings.Split(rest, ".")...)
			for _, p := range path[1:] {
				if p == "" {
					return nil, fmt.Errorf("CSV header: column %q has an empty path segment", h)
				}
			}
		} else {
			f, ok := topLevel[strings.ReplaceAll(strings.ToLower(h), "_", "")]
			if !ok {
				return nil, fmt.Errorf("CSV header: unknown column %q (want type, userId, anonymousId, event, messageId, timestamp, name, … or traits.x, properties.x, context.x)", h)
			}
			path = []string{f}
		}
		key := strings.Join(path, ".")
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("CSV header: columns %d and %d both set %s", j+1, i+1, key)
		}
		seen[key] = i
		cols[i] = column{path: path}
	}
	// A path may not be both a value and an object (properties.a and properties.a.b).
	for key := range seen {
		for other := range seen {
			if strings.HasPrefix(other, key+".") {
				return nil, fmt.Errorf("CSV header: %s is both a value and an object (%s)", key, other)
			}
		}
	}
	return cols, nil
}

func (c *csvReader) bytesRead() int64 { return c.cr.count() }

func (c *csvReader) next() (*record, error) {
	fields, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	c.seq++
	line, _ := c.r.FieldPos(0)
	rec := &record{seq: c.seq, line: line}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		rec.line = pe.StartLine
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			rec.err = fmt.Errorf("has %d fields; the header has %d", len(fields), len(c.cols))
		} else {
			rec.err = fmt.Errorf("malformed CSV: %v", pe.Err)
		}
		return rec, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading CSV record %d: %w", c.seq, err)
	}
	if c.seq <= c.skip {
		return rec, nil
	}
	obj := map[string]any{}
	for i, col := range c.cols {
		v := fields[i]
		if v == "" {
			continue
		}
		if len(col.path) == 1 {
			obj[col.path[0]] = v
			continue
		}
		m := obj
		for _, p := range col.path[:len(col.path)-1] {
			child, ok := m[p].(map[string]any)
			if !ok {
				child = map[string]any{}
				m[p] = child
			}
			m = child
		}
		m[col.path[len(col.path)-1]] = typed(v)
	}
	body, err := json.Marshal(obj)
	if err != nil {
		rec.err = fmt.Errorf("cannot encode the record: %w", err)
		return rec, nil
	}
	msg, err := wire.Decode(body)
	if err != nil {
		rec.err = err
		return rec, nil
	}
	if msg.MessageID == "" {
		msg.MessageID = derivedMessageID([]byte(strings.Join(fields, "\x1f")), 0)
	}
	rec.msgs = []wire.Message{msg}
	return rec, nil
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// typed reads a nested cell: JSON numbers and booleans keep their type, the rest are strings.
// Leading zeros ("01234", a zip code) are not a JSON number and stay strings.
func typed(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	if jsonNumber.MatchString(v) {
		return json.Number(v)
	}
	return v
}
