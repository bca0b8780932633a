package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// ndjsonReader reads one record per line: a Segment message, or a batch object
// ({"batch": [...], "context": …}) whose messages are all stored or all rejected, as a
// /v1/batch request would be.
type ndjsonReader struct {
	r    *bufio.Reader
	cr   *countingReader
	skip int
	seq  int
	buf  []byte
}

func newNDJSONReader(cr *countingReader, skip int) *ndjsonReader {
	return &ndjsonReader{r: bufio.NewReaderSize(cr, 256<<10), cr: cr, skip: skip}
}

func (n *ndjsonReader) bytesRead() int64 { return n.cr.count() }

// errLineTooLong marks a line over the request limit; the rest of it is discarded.
var errLineTooLong = fmt.Errorf("line is longer than %d KB, the limit of one request", wire.MaxRequestBytes>>10)

// readLine returns the next line without its end, or errLineTooLong after consuming it.
func (n *ndjsonReader) readLine() ([]byte, error) {
	// A fresh buffer per line: decoded messages keep slices of their line's raw JSON
	// (properties, context) until they are stored, which is after later lines are read.
	n.buf = nil
	tooLong := false
	for {
		chunk, err := n.r.ReadSlice('\n')
		if !tooLong {
			if len(n.buf)+len(chunk) > wire.MaxRequestBytes+2 {
				tooLong = true
				n.buf = n.buf[:0]
			} else {
				n.buf = append(n.buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !(errors.Is(err, io.EOF) && (len(n.buf) > 0 || tooLong)) {
			return nil, err
		}
		if tooLong {
			return nil, errLineTooLong
		}
		return bytes.TrimRight(n.buf, "\r\n"), nil
	}
}

var batchKey = []byte(`"batch"`)

func (n *ndjsonReader) next() (*record, error) {
	line, err := n.readLine()
	n.seq++
	rec := &record{seq: n.seq, line: n.seq}
	switch {
	case errors.Is(err, errLineTooLong):
		rec.err = err
		return rec, nil
	case err != nil:
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("error reading line %d: %w", n.seq, err)
	}
	if n.seq <= n.skip {
		return rec, nil
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return rec, nil // blank: nothing to store
	}
	if bytes.Contains(line, batchKey) {
		// A batch line's invalid messages are rejected alone, as /v1/batch drops them.
		if b, err := wire.DecodeBatchItems(line); err == nil {
			for i := range b.Messages {
				if b.Messages[i].MessageID == "" {
					b.Messages[i].MessageID = derivedMessageID(line, b.Position(i))
				}
			}
			rec.msgs = b.Messages
			for _, d := range b.Dropped {
				rec.dropped = append(rec.dropped, d.Err)
			}
			return rec, nil
		} else if !wire.IsMissingBatch(err) {
			rec.err = err
			return rec, nil
		}
	}
	m, err := wire.Decode(line)
	if err != nil {
		rec.err = err
		return rec, nil
	}
	if m.MessageID == "" {
		m.MessageID = derivedMessageID(line, 0)
	}
	rec.msgs = []wire.Message{m}
	return rec, nil
}
