// Package importer loads files of Segment Spec messages (`cairn import`) through the same
// decoding, validation, identity resolution and storage path as the tracking API: NDJSON (one
// message, or one {"batch": [...]} object, per line) or CSV (a header row naming the fields,
// with dotted columns such as traits.email or properties.revenue building nested objects).
//
// Lines that fail validation are rejected with their line number and reason, the rest are
// stored; messages without a messageId get one derived from their content, so re-importing a
// file stores nothing twice. Imports resume with Options.Skip: the summary of an interrupted
// import says how many records were committed.
package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// Submitter stores validated messages: *ingest.Pipeline.
type Submitter interface {
	Submit(ctx context.Context, msgs []wire.Message, source string) (ingest.Result, error)
}

// Formats.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// DetectFormat names the format of a file from its extension: .csv (and .tsv-less CSV) → csv;
// .ndjson, .jsonl, .json, .ldjson → ndjson. A trailing .gz is not supported.
func DetectFormat(name string) (string, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV, nil
	case ".ndjson", ".jsonl", ".json", ".ldjson":
		return FormatNDJSON, nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its extension: pass --format ndjson or --format csv", name)
}

// Options tune an import. Zero values take the defaults noted.
type Options struct {
	Format string // FormatNDJSON or FormatCSV (required)
	// Skip passes over the first Skip records: lines of NDJSON, data rows of CSV (the header is
	// always read). Use the Committed count of an interrupted import to resume it.
	Skip int
	// BatchSize is the messages per submission, default 500 (at most wire.MaxBatchSize).
	BatchSize int
	// Concurrency is the submissions in flight, default 4: the pipeline commits concurrent
	// submissions together.
	Concurrency int
	// Source is recorded on every interaction, default "import".
	Source string
	// MaxRejections caps the rejections listed in the summary (all are counted), default 1,000.
	MaxRejections int
	// Progress, when set, is called after each committed submission.
	Progress func(Progress)
}

// Progress is the state of a running import.
type Progress struct {
	Records  int   // records read (including skipped)
	Messages int   // messages committed (stored, duplicate or dropped)
	Rejected int   // records rejected
	Bytes    int64 // input bytes consumed
	Elapsed  time.Duration
}

// Rejection is a record that was not imported.
type Rejection struct {
	Line   int // 1-based line of the input where the record starts
	Reason string
}

func (r Rejection) String() string { return fmt.Sprintf("line %d: %s", r.Line, r.Reason) }

// Summary is the outcome of an import.
type Summary struct {
	Records    int // records read after the skipped ones
	Skipped    int
	Messages   int // messages submitted and committed
	Stored     int
	Duplicates int // already stored (same messageId), or repeated in the file
	Dropped    int // not stored: the customer denied analytics consent
	// RejectedCount counts rejected records, and the invalid messages of a batch line whose
	// other messages were imported (their reason names the item, "batch[2].event: …");
	// Rejected lists the first MaxRejections of them.
	RejectedCount int
	Rejected      []Rejection
	// Committed is how many records from the start of the input (skipped ones included) are
	// known to be committed: pass it as Skip to resume an interrupted import.
	Committed int
	Elapsed   time.Duration
}

// EventsPerSec is the rate of committed messages.
func (s *Summary) EventsPerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Messages) / s.Elapsed.Seconds()
}

// Validate reports a bad option (format, skip) before any work starts.
func (o Options) Validate() error { return o.defaults() }

func (o *Options) defaults() error {
	switch o.Format {
	case FormatNDJSON, FormatCSV:
	default:
		return fmt.Errorf("unknown format %q: use ndjson or csv", o.Format)
	}
	if o.Skip < 0 {
		return errors.New("skip must not be negative")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	o.BatchSize = min(o.BatchSize, wire.MaxBatchSize)
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Source == "" {
		o.Source = "import"
	}
	if o.MaxRejections <= 0 {
		o.MaxRejections = 1000
	}
	return nil
}

// record is one decoded input record: its messages, or why it was rejected.
type record struct {
	seq  int // 1-based record number (skipped ones included)
	line int
	msgs []wire.Message
	err  error
	// dropped are the errors of a batch line's invalid messages, left out of msgs.
	dropped []error
}

// reader yields records in order; io.EOF at the end.
type reader interface {
	next() (*record, error)
	bytesRead() int64
}

// Import reads r in opts.Format and submits its messages to sub.
func Import(ctx context.Context, r io.Reader, sub Submitter, opts Options) (*Summary, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	began := time.Now()
	cr := &countingReader{r: r}
	var rd reader
	var err error
	switch opts.Format {
	case FormatNDJSON:
		rd = newNDJSONReader(cr, opts.Skip)
	case FormatCSV:
		if rd, err = newCSVReader(cr, opts.Skip); err != nil {
			return nil, err
		}
	}

	im := &importer{ctx: ctx, sub: sub, opts: opts, began: began, rd: rd, sum: &Summary{Committed: opts.Skip}}
	err = im.run()
	im.sum.Elapsed = time.Since(began)
	return im.sum, err
}

// importer runs one import: a reading loop filling batches, and up to Concurrency submissions
// in flight, committed in any order but accounted in order (for Committed).
type importer struct {
	ctx   context.Context
	sub   Submitter
	opts  Options
	began time.Time
	rd    reader

	mu       sync.Mutex
	sum      *Summary
	records  int         // read, including skipped
	done     map[int]int // batch seq → last record seq of it, for committed batches not yet contiguous
	nextDone int         // next batch seq expected for the watermark
	failed   error
}

// batch is what one submission carries.
type batch struct {
	seq     int
	records []*record
	msgs    int
	last    int // last record seq in the batch (or read before it)
}

func (im *importer) run() error {
	im.done = map[int]int{}
	sem := make(chan struct{}, im.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()

	seq := 0
	cur := &batch{seq: seq}
	flush := func() bool {
		b := cur
		seq++
		cur = &batch{seq: seq}
		select {
		case sem <- struct{}{}:
		case <-im.ctx.Done():
			return false
		}
		if im.err() != nil {
			<-sem
			return false
		}
		wg.Go(func() {
			defer func() { <-sem }()
			im.submit(b)
		})
		return true
	}

	for {
		if err := im.ctx.Err(); err != nil {
			wg.Wait()
			return im.fail(err)
		}
		if err := im.err(); err != nil {
			wg.Wait()
			return err
		}
		rec, err := im.rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			wg.Wait()
			return im.fail(err)
		}
		im.mu.Lock()
		im.records = rec.seq
		skip := rec.seq <= im.opts.Skip
		if skip {
			im.sum.Skipped++
		} else {
			im.sum.Records++
		}
		im.mu.Unlock()
		if !skip {
			for _, err := range rec.dropped {
				im.reject(rec.line, err)
			}
		}
		if skip || rec.err != nil {
			if !skip {
				im.reject(rec.line, rec.err)
			}
			cur.last = rec.seq // accounted with the batch being filled
			continue
		}
		if cur.msgs > 0 && cur.msgs+len(rec.msgs) > im.opts.BatchSize {
			if !flush() {
				break
			}
		}
		cur.records = append(cur.records, rec)
		cur.msgs += len(rec.msgs)
		cur.last = rec.seq
	}
	if cur.msgs > 0 || cur.last > 0 {
		flush()
	}
	wg.Wait()
	if err := im.ctx.Err(); err != nil {
		return im.fail(err)
	}
	return im.err()
}

func (im *importer) err() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.failed
}

func (im *importer) fail(err error) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.failed == nil {
		im.failed = err
	}
	return im.failed
}

func (im *importer) reject(line int, err error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.sum.RejectedCount++
	if len(im.sum.Rejected) < im.opts.MaxRejections {
		im.sum.Rejected = append(im.sum.Rejected, Rejection{Line: line, Reason: reason(err)})
	}
}

func reason(err error) string {
	var ve *wire.ValidationError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	return err.Error()
}

// submit stores a batch. A validation error from the pipeline (which checks more than the
// decoder) rejects the whole submission, so the batch is retried record by record to find
// the records at fault.
func (im *importer) submit(b *batch) {
	if b.msgs > 0 {
		msgs := make([]wire.Message, 0, b.msgs)
		for _, rec := range b.records {
			msgs = append(msgs, rec.msgs...)
		}
		res, err := im.store(msgs)
		var ve *wire.ValidationError
		switch {
		case err == nil:
			im.account(len(msgs), res)
		case errors.As(err, &ve):
			for _, rec := range b.records {
				res, err := im.store(rec.msgs)
				switch {
				case err == nil:
					im.account(len(rec.msgs), res)
				case errors.As(err, &ve):
					im.reject(rec.line, err)
				default:
					im.fail(fmt.Errorf("error storing line %d: %w", rec.line, err))
					return
				}
			}
		default:
			im.fail(fmt.Errorf("error storing lines %d-%d: %w", b.records[0].line, b.records[len(b.records)-1].line, err))
			return
		}
	}
	im.mu.Lock()
	im.done[b.seq] = b.last
	for {
		last, ok := im.done[im.nextDone]
		if !ok {
			break
		}
		delete(im.done, im.nextDone)
		im.nextDone++
		im.sum.Committed = max(im.sum.Committed, last)
	}
	p := Progress{Records: im.records, Messages: im.sum.Messages, Rejected: im.sum.RejectedCount,
		Bytes: im.rd.bytesRead(), Elapsed: time.Since(im.began)}
	im.mu.Unlock()
	if im.opts.Progress != nil {
		im.opts.Progress(p)
	}
}

// retries is how often a submission that lost a race with a concurrent one (the pipeline
// already retries a few times itself) is sent again; resending is safe: a submission is stored
// whole or not at all, and messageIds deduplicate.
const retries = 6

// store submits msgs, retrying while they lose races with concurrent submissions about the
// same new people.
func (im *importer) store(msgs []wire.Message) (ingest.Result, error) {
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		res, err := im.sub.Submit(im.ctx, msgs, im.opts.Source)
		if err == nil || attempt == retries || !identity.IsRetryable(err) {
			return res, err
		}
		jitter := time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-time.After(backoff + jitter):
		case <-im.ctx.Done():
			return res, err
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (im *importer) account(n int, res ingest.Result) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.sum.Messages += n
	im.sum.Stored += res.Stored
	im.sum.Duplicates += res.Duplicates
	im.sum.Dropped += res.Dropped
}

// derivedMessageID gives a message without a messageId a stable one from the record's content
// (and its position within a batch line), so a re-import deduplicates.
func derivedMessageID(content []byte, index int) string {
	h := sha256.New()
	h.Write(content)
	fmt.Fprintf(h, "\x00%d", index)
	return "import-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// countingReader counts the bytes read through it (bytesRead may be called concurrently).
type countingReader struct {
	r  io.Reader
	mu sync.Mutex
	n  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *countingReader) count() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
