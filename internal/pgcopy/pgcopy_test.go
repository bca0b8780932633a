package pgcopy

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/testdb"
)

func TestAppendTime(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	cases := []time.Time{
		time.Unix(0, 0),
		time.Date(2000, 2, 29, 23, 59, 59, 999999000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1000, time.UTC),
		time.Date(2026, 11, 22, 19, 30, 0, 123456789, time.FixedZone("x", 3600)),
	}
	for range 10000 {
		cases = append(cases, time.UnixMicro(r.Int64N(4e15)-1e15))
	}
	for _, c := range cases {
		want := c.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
		require.Equal(t, want, string(AppendTime(nil, c)), "time %v", c)
	}
}

func TestBufferEscapes(t *testing.T) {
	t.Parallel()
	var b Buffer
	b.Text("a\tb\\c\nd\re")
	b.Null()
	b.Bool(true)
	b.Int(-3)
	b.Float(1.5, 2)
	b.EndRow()
	require.Equal(t, "a\\tb\\\\c\\nd\\re\t\\N\tt\t-3\t1.50\n", string(b.Bytes()))
	require.Equal(t, 1, b.Rows())
}

// TestEscapesEachSpecialByte checks each byte COPY escapes alone, as text and as bytes (the
// fast path looks for each separately), and a field with none.
func TestEscapesEachSpecialByte(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"a":"b"}`: `{"a":"b"}`, "x\\y": `x\\y`, "x\ny": `x\ny`, "x\ry": `x\ry`, "x\ty": `x\ty`, "": "",
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			t.Parallel()
			var b Buffer
			b.Text(in)
			b.TextBytes([]byte(in))
			b.EndRow()
			require.Equal(t, want+"\t"+want+"\n", string(b.Bytes()), "%q", in)
		})
	}
}

func TestCopyRoundTrip(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := t.Context()
	_, err := db.ExecContext(ctx, `CREATE TABLE rt (id int, s text, j jsonb, t timestamptz, u uuid, n numeric, b boolean)`)
	require.NoError(t, err)

	tricky := "tab\there\\back\nline\rcr ünï \\N"
	ts := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	var buf Buffer
	for i := range 3000 { // more than one piece of pieceSize
		buf.Int(int64(i))
		buf.Text(tricky)
		buf.TextBytes([]byte(`{"k":"v\\n\ttab","n":` + strconv.Itoa(i) + `}`))
		buf.Time(ts)
		buf.UUID([16]byte{0xde, 0xad, 0xbe, 0xef, 15: byte(i)})
		if i%2 == 0 {
			buf.Null()
		} else {
			buf.Float(12.345, 2)
		}
		buf.Bool(i%3 == 0)
		buf.EndRow()
		buf.Null() // padding rows, so the data spans pieces
		buf.Text(strings.Repeat("x", 100))
		buf.Null()
		buf.Null()
		buf.Null()
		buf.Null()
		buf.Null()
		buf.EndRow()
	}
	require.Greater(t, buf.Len(), 2*pieceSize)

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN")
	require.NoError(t, err)
	n, err := Copy(ctx, conn, "rt", []string{"id", "s", "j", "t", "u", "n", "b"}, &buf)
	require.NoError(t, err)
	require.EqualValues(t, 6000, n)
	_, err = conn.ExecContext(ctx, "COMMIT")
	require.NoError(t, err)

	var s, j, u string
	var got time.Time
	var num sql.NullString
	var b bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT s, j::text, t, u::text, n::text, b FROM rt WHERE id = 3`).Scan(&s, &j, &got, &u, &num, &b))
	require.Equal(t, tricky, s)
	require.JSONEq(t, `{"k":"v\\n\ttab","n":3}`, j)
	require.True(t, ts.Truncate(time.Microsecond).Equal(got))
	require.Equal(t, "deadbeef-0000-0000-0000-000000000003", u)
	require.Equal(t, "12.35", num.String)
	require.True(t, b)
	var nulls int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM rt WHERE id IS NULL AND s = repeat('x', 100)`).Scan(&nulls))
	require.Equal(t, 3000, nulls)
}

func TestCopyNeedsFinishedRow(t *testing.T) {
	t.Parallel()
	var buf Buffer
	buf.Int(1)
	_, err := Copy(t.Context(), nil, "t", []string{"a"}, &buf)
	require.ErrorContains(t, err, "EndRow")
}
