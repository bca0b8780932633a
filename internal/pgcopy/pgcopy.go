// Package pgcopy streams generated rows into PostgreSQL with `COPY … FROM STDIN` (text format).
// Rows are encoded straight into a byte buffer and handed to lib/pq's COPY stream in large
// pieces, which costs a fraction of database/sql's per-row Exec when loading millions of rows
// (cairn seed, the COPY baseline of cairn bench).
package pgcopy

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Buffer accumulates rows in COPY text format. The zero value is ready to use.
type Buffer struct {
	b    []byte
	rows int
	col  int // fields written in the current row
}

// Len is the encoded size in bytes.
func (b *Buffer) Len() int { return len(b.b) }

// Rows is the number of complete rows.
func (b *Buffer) Rows() int { return b.rows }

// Bytes returns the encoded rows (each ending in a newline).
func (b *Buffer) Bytes() []byte { return b.b }

// Reset empties the buffer, keeping its memory.
func (b *Buffer) Reset() { b.b, b.rows, b.col = b.b[:0], 0, 0 }

func (b *Buffer) sep() {
	if b.col > 0 {
		b.b = append(b.b, '\t')
	}
	b.col++
}

// Text appends a text field, escaped for COPY.
func (b *Buffer) Text(s string) {
	b.sep()
	if plain(s) {
		b.b = append(b.b, s...)
		return
	}
	b.b = appendEscaped(b.b, s)
}

// TextBytes appends a text field given as bytes (JSON, for example), escaped for COPY.
func (b *Buffer) TextBytes(p []byte) {
	b.sep()
	if plainBytes(p) {
		b.b = append(b.b, p...)
		return
	}
	b.b = appendEscaped(b.b, p)
}

// Null appends SQL NULL.
func (b *Buffer) Null() {
	b.sep()
	b.b = append(b.b, `\N`...)
}

// Bool appends a boolean.
func (b *Buffer) Bool(v bool) {
	b.sep()
	if v {
		b.b = append(b.b, 't')
	} else {
		b.b = append(b.b, 'f')
	}
}

// Int appends an integer.
func (b *Buffer) Int(v int64) {
	b.sep()
	b.b = strconv.AppendInt(b.b, v, 10)
}

// Float appends a number with prec decimals (NULL for NaN or ±Inf).
func (b *Buffer) Float(v float64, prec int) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		b.Null()
		return
	}
	b.sep()
	b.b = strconv.AppendFloat(b.b, v, 'f', prec, 64)
}

// Time appends a timestamptz as ISO 8601 in UTC with microseconds (PostgreSQL's resolution).
func (b *Buffer) Time(t time.Time) {
	b.sep()
	b.b = AppendTime(b.b, t)
}

// AppendTime appends t in UTC as 2006-01-02T15:04:05.000000Z, several times faster than
// time.AppendFormat, which matters at millions of rows.
func AppendTime(dst []byte, t time.Time) []byte {
	us := t.UnixMicro()
	secs := us / 1e6
	frac := us % 1e6
	if frac < 0 {
		frac += 1e6
		secs--
	}
	days := secs / 86400
	sod := secs % 86400
	if sod < 0 {
		sod += 86400
		days--
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	}
	dst = append4(dst, int(y))
	dst = append(dst, '-')
	dst = append2(dst, int(m))
	dst = append(dst, '-')
	dst = append2(dst, int(d))
	dst = append(dst, 'T')
	dst = append2(dst, int(sod/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(sod/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(sod%60))
	dst = append(dst, '.')
	dst = append2(dst, int(frac/10000))
	dst = append2(dst, int(frac/100%100))
	dst = append2(dst, int(frac%100))
	return append(dst, 'Z')
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
// days_from_civil inverse).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// UUID appends a uuid in its canonical form.
func (b *Buffer) UUID(u [16]byte) {
	b.sep()
	b.b = AppendUUID(b.b, u)
}

// EndRow finishes the current row.
func (b *Buffer) EndRow() {
	b.b = append(b.b, '\n')
	b.rows++
	b.col = 0
}

// AppendUUID appends the canonical text form of u (8-4-4-4-12 lower-case hex).
func AppendUUID(dst []byte, u [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0x0f])
	}
	return dst
}

// appendEscaped escapes backslash, newline, carriage return and tab, the characters COPY's
// text format gives meaning to. Runs without them are copied whole.
func appendEscaped[S string | []byte](dst []byte, s S) []byte {
	from := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\t':
			esc = 't'
		default:
			continue
		}
		dst = append(dst, s[from:i]...)
		dst = append(dst, '\\', esc)
		from = i + 1
	}
	return append(dst, s[from:]...)
}

// plain reports whether s holds none of the bytes COPY's text format escapes. Most fields (JSON
// text above all: it escapes its own control characters) hold none, and four vectorised
// searches find that several times faster than appendEscaped's look at every byte.
func plain(s string) bool {
	return strings.IndexByte(s, '\\') < 0 && strings.IndexByte(s, '\n') < 0 &&
		strings.IndexByte(s, '\r') < 0 && strings.IndexByte(s, '\t') < 0
}

func plainBytes(p []byte) bool {
	return bytes.IndexByte(p, '\\') < 0 && bytes.IndexByte(p, '\n') < 0 &&
		bytes.IndexByte(p, '\r') < 0 && bytes.IndexByte(p, '\t') < 0
}

// pieceSize is how much encoded data goes into one CopyData call: big enough to amortise the
// call, small enough that lib/pq's send buffer stays small.
const pieceSize = 256 << 10

// copyDataStmt is lib/pq's COPY statement, which accepts raw, already encoded rows.
type copyDataStmt interface {
	driver.Stmt
	CopyData(ctx context.Context, line string) (driver.Result, error)
}

// ErrConnLost means Copy's connection broke (Copy's errors never wrap driver.ErrBadConn: see Copy).
var ErrConnLost = errors.New("database connection lost")

// Copy runs `COPY table (columns) FROM STDIN` on conn, which must be inside a transaction
// (BEGIN executed on it, or a *sql.Tx begun on conn), and sends the rows in buf. It returns
// the number of rows stored.
//
// A connection lost on the way is reported as ErrConnLost, not wrapping driver.ErrBadConn:
// given that, conn.Raw would close conn at once, which waits for a *sql.Tx open on it to end,
// and the caller that would end it is the one waiting (a writer hung for good). The connection
// is still discarded: lib/pq has marked it bad, so the transaction's rollback reports
// ErrBadConn and database/sql drops it then.
func Copy(ctx context.Context, conn *sql.Conn, table string, columns []string, buf *Buffer) (int64, error) {
	if buf.col != 0 {
		return 0, errors.New("pgcopy: the last row is not finished (call EndRow)")
	}
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pq.QuoteIdentifier(c)
	}
	query := "COPY " + pq.QuoteIdentifier(table) + " (" + strings.Join(quoted, ", ") + ") FROM STDIN"
	var n int64
	err := conn.Raw(func(dc any) (err error) {
		defer func() {
			if errors.Is(err, driver.ErrBadConn) {
				err = fmt.Errorf("%w: %v", ErrConnLost, err) // err names the table already
			}
		}()
		pc, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("pgcopy: unexpected driver connection %T", dc)
		}
		st, err := pc.Prepare(query)
		if err != nil {
			return fmt.Errorf("error starting COPY into %s: %w", table, err)
		}
		defer st.Close()
		cs, ok := st.(copyDataStmt)
		if !ok {
			return fmt.Errorf("pgcopy: driver statement %T cannot stream raw COPY data", st)
		}
		data := buf.Bytes()
		for len(data) > 0 {
			end := len(data)
			if end > pieceSize {
				// Cut after a row: CopyData adds the newline we leave out.
				nl := bytes.IndexByte(data[pieceSize:], '\n')
				if nl >= 0 {
					end = pieceSize + nl + 1
				}
			}
			piece := data[:end]
			if _, err := cs.CopyData(ctx, string(piece[:len(piece)-1])); err != nil {
				return fmt.Errorf("error sending COPY data into %s: %w", table, err)
			}
			data = data[end:]
		}
		res, err := cs.Exec(nil)
		if err != nil {
			return fmt.Errorf("error copying into %s: %w", table, err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
