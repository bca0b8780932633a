package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/internal/pgcopy"
	"github.com/cairn-cdp/cairn/internal/seed"
)

// scratchDDL makes a table shaped and indexed like interactions (no foreign key: the baseline
// is COPY itself). %s is the table name.
var scratchDDL = []string{
	`CREATE TABLE %s (id uuid PRIMARY KEY, kind varchar NOT NULL, event varchar, properties jsonb, context jsonb,
		occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL, message_id varchar NOT NULL,
		revenue numeric(18,4), source varchar, channel varchar, customer_id uuid NOT NULL)`,
	`CREATE UNIQUE INDEX ON %s (message_id)`,
	`CREATE INDEX ON %s (customer_id, occurred_at)`,
	`CREATE INDEX ON %s (customer_id, event, occurred_at)`,
	`CREATE INDEX ON %s (event, occurred_at)`,
}

// copyChunk is how many rows go into one COPY buffer: generation of the next overlaps the send
// of the previous.
const copyChunk = 5000

// copyBaseline copies rows rows, about 400 bytes each as stored, into a scratch table with
// interactions' indexes in one transaction, and drops the table afterwards.
func copyBaseline(ctx context.Context, db *sql.DB, rows, people int, seed uint64, log io.Writer) (*CopyResult, error) {
	table := "bench_copy_" + runID(seed^uint64(time.Now().UnixNano()))
	q := pq.QuoteIdentifier(table)
	for _, ddl := range scratchDDL {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(ddl, q)); err != nil {
			_, _ = db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+q)
			return nil, fmt.Errorf("error creating scratch table %s: %w", table, err)
		}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+q); err != nil {
			fmt.Fprintf(log, "bench: could not drop scratch table %s: %v\n", table, err)
		}
	}()

	fmt.Fprintf(log, "bench: COPY of %d rows into scratch table %s\n", rows, table)
	res := &CopyResult{}
	// Generate on one goroutine, send on this one.
	bufs := make(chan *pgcopy.Buffer, 2)
	free := make(chan *pgcopy.Buffer, 3)
	for range 3 {
		free <- &pgcopy.Buffer{}
	}
	genCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(bufs)
		g := newRowGen(seed, people)
		for done := 0; done < rows; done += copyChunk {
			var b *pgcopy.Buffer
			select {
			case b = <-free:
			case <-genCtx.Done():
				return
			}
			b.Reset()
			for range min(copyChunk, rows-done) {
				g.row(b)
			}
			select {
			case bufs <- b:
			case <-genCtx.Done():
				return
			}
		}
	}()

	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error connecting: %w", err)
	}
	defer conn.Close()
	began := time.Now()
	cpu := startCPU()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return nil, fmt.Errorf("error starting COPY transaction: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	last := began
	for b := range bufs {
		n, err := pgcopy.Copy(ctx, conn, table, interaction.Columns, b)
		if err != nil {
			return nil, err
		}
		res.Rows += n
		res.Bytes += int64(b.Len())
		free <- b
		if time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Fprintf(log, "bench: copy %4.0fs: %d rows, %.0f rows/s\n", time.Since(began).Seconds(), res.Rows, rateOf(res.Rows, time.Since(began)))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("error committing COPY: %w", err)
	}
	committed = true
	res.Elapsed = time.Since(began)
	res.CPU = cpu.elapsed()
	if err := conn.QueryRowContext(ctx, "SELECT coalesce(avg(pg_column_size(t.*)), 0) FROM (SELECT * FROM "+q+" LIMIT 10000) t").Scan(&res.RowBytes); err != nil {
		return nil, fmt.Errorf("error measuring row size: %w", err)
	}
	return res, nil
}

// rowGen makes interaction rows like those ingest stores for the payload generator's messages.
type rowGen struct {
	r         *rand.Rand
	customers [][16]byte
	js        pgcopy.JSON
	now       time.Time
}

func newRowGen(rngSeed uint64, people int) *rowGen {
	g := &rowGen{r: rand.New(rand.NewPCG(rngSeed, 0xc0b1)), now: time.Now()}
	g.customers = make([][16]byte, min(people, 1_000_000))
	for i := range g.customers {
		g.customers[i] = seed.UUID7(g.now.Add(-time.Duration(g.r.IntN(1000))*time.Hour).UnixMilli(), g.r)
	}
	return g
}

func (g *rowGen) row(b *pgcopy.Buffer) {
	r := g.r
	now := time.Now()
	occurred := now.Add(-time.Duration(r.IntN(2000)) * time.Millisecond)
	b.UUID(seed.UUID7(now.UnixMilli(), g.r))
	kind, event := "track", benchEvents[r.IntN(len(benchEvents))]
	if r.Float64() < 0.4 {
		kind, event = "page", "Page Viewed" // as ingest stores page calls
	}
	b.Text(kind)
	b.Text(event)
	w := &g.js
	w.Reset()
	w.Obj()
	var revenue float64
	if kind == "page" {
		path := benchPages[r.IntN(len(benchPages))]
		w.Str("path", path)
		w.Str("url", "https://shop.example.com"+path)
		w.Str("title", "Cairn Shop")
		w.Str("referrer", "https://www.google.com/")
	} else {
		w.Str("product_id", "p-"+strconv.Itoa(1000+r.IntN(400)))
		w.Str("currency", "EUR")
		price := float64(500+r.IntN(9500)) / 100
		if event == "Order Completed" {
			revenue = price * 2
			w.Str("order_id", "ord-"+strconv.FormatUint(r.Uint64()>>16, 36))
			w.Num("revenue", revenue)
			w.Num("total", revenue+4.95)
		} else {
			w.Num("price", price)
		}
	}
	w.End()
	b.TextBytes(w.B)
	w.Reset()
	w.Obj()
	w.Str("ip", "203.0."+strconv.Itoa(r.IntN(256))+".0")
	w.Key("library")
	w.Obj()
	w.Str("name", "analytics.js")
	w.Str("version", "5.2.1")
	w.End()
	w.Str("locale", "en-US")
	w.Str("userAgent", benchUserAgent)
	w.End()
	b.TextBytes(w.B)
	b.Time(occurred)
	b.Time(now)
	var mid [36]byte
	b.Text(string(pgcopy.AppendUUID(mid[:0], seed.UUID4(r))))
	if revenue > 0 {
		b.Float(revenue, 2)
	} else {
		b.Null()
	}
	b.Text("bench")
	b.Text("web")
	b.UUID(g.customers[r.IntN(len(g.customers))])
	b.EndRow()
}
