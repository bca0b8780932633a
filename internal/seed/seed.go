// Package seed fills a Cairn database with deterministic synthetic customers and their events
// (`cairn seed`): anonymous browsing that later identifies, people with several devices, orders
// with revenue, email opens and clicks, traits and consents, spread over about two years with
// more activity in the recent past. The same options give the same rows, byte for byte.
//
// Rows are generated in parallel per chunk of customers and streamed into Postgres with COPY in
// one transaction. Into empty tables, secondary indexes and foreign keys are dropped first and
// rebuilt at the end (inside the same transaction, so a failed seed leaves the schema as it
// was): bulk index builds are several times cheaper than maintaining the indexes row by row.
package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

// Options say what to generate. Zero values take the defaults noted.
type Options struct {
	Customers int    // required, ≥ 1
	Events    int    // interactions in total (identifies included)
	Seed      uint64 // the same seed gives the same data
	// Now is the end of the data window. Default: the start of the current UTC day, so that two
	// runs on the same day give the same data.
	Now time.Time
	// Span is how far back the data goes. Default two years.
	Span time.Duration
	// Source is stored in interactions.source. Default "seed".
	Source string
	// ChunkCustomers is how many customers are generated and copied together. Default 5,000.
	ChunkCustomers int
	// Workers generate chunks in parallel. Default GOMAXPROCS-1 (at least 1): one generator
	// outpaces one COPY backend.
	Workers int
	// KeepIndexes keeps indexes and foreign keys in place even when the tables are empty.
	KeepIndexes bool
	// Progress, when set, is called after each chunk and at each phase.
	Progress func(Progress)
}

// Limits that keep a typo from filling the disk.
const (
	MaxCustomers = 50_000_000
	MaxEvents    = 500_000_000
)

// Progress reports how far a seed has come.
type Progress struct {
	Phase          string // "load", "index", "analyze"
	Customers      int
	Events         int
	TotalCustomers int
	TotalEvents    int
	Elapsed        time.Duration
	Detail         string // for "index": the index or constraint just rebuilt
}

// Result summarises a finished seed.
type Result struct {
	Customers, Identities, Consents, Interactions int64
	// Rebuilt counts indexes and foreign keys dropped for the load and rebuilt after it.
	Rebuilt int
	Load    time.Duration // generation and COPY
	Index   time.Duration // rebuilding indexes and constraints
	Total   time.Duration
	// Waits is time the loader spent waiting for generated chunks; Copies, per table, time spent
	// in COPY.
	Waits  time.Duration
	Copies map[string]time.Duration
}

// Tables and the columns the seed writes, in COPY order.
var (
	customerColumns = []string{"id", "created_at", "updated_at", "traits", "trait_times", "email", "phone", "first_seen_at", "last_seen_at"}
	identityColumns = []string{"id", "type", "value", "first_seen_at", "last_seen_at", "customer_id"}
	consentColumns  = []string{"id", "purpose", "granted", "source", "recorded_at", "proof", "customer_id"}
	seededTables    = []string{"customers", "identities", "consents", "interactions"}
)

func (o *Options) defaults() error {
	if o.Customers < 1 || o.Customers > MaxCustomers {
		return fmt.Errorf("customers must be between 1 and %d", MaxCustomers)
	}
	if o.Events < 0 || o.Events > MaxEvents {
		return fmt.Errorf("events must be between 0 and %d", MaxEvents)
	}
	if o.Now.IsZero() {
		o.Now = time.Now().UTC().Truncate(24 * time.Hour)
	}
	if o.Span <= 0 {
		o.Span = 730 * 24 * time.Hour
	}
	if o.Source == "" {
		o.Source = "seed"
	}
	if o.ChunkCustomers <= 0 {
		o.ChunkCustomers = 5000
	}
	if o.Workers <= 0 {
		o.Workers = max(1, runtime.GOMAXPROCS(0)-1) // leave a core to the PostgreSQL backend
	}
	return nil
}

// Validate reports what is wrong with the options, if anything.
func (o Options) Validate() error { return o.defaults() }

// Run generates the data and loads it into db in one transaction, then vacuums and analyzes the
// tables.
func Run(ctx context.Context, db *sql.DB, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	began := time.Now()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error connecting: %w", err)
	}
	defer conn.Close()

	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return nil, fmt.Errorf("error starting transaction: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	// Bulk index builds want memory; commits of this one big transaction need not wait for the
	// WAL flush. Both are local to the transaction.
	for _, set := range []string{"SET LOCAL maintenance_work_mem = '1GB'", "SET LOCAL synchronous_commit = off"} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			return nil, fmt.Errorf("error configuring session (%s): %w", set, err)
		}
	}

	var rebuild []string
	if !opts.KeepIndexes {
		empty, err := tablesEmpty(ctx, conn)
		if err != nil {
			return nil, err
		}
		if empty {
			if rebuild, err = dropSecondary(ctx, conn); err != nil {
				return nil, err
			}
		}
	}

	res := &Result{Rebuilt: len(rebuild)}
	if err := load(ctx, conn, opts, res, began); err != nil {
		return nil, err
	}
	res.Load = time.Since(began)

	for _, stmt := range rebuild {
		t0 := time.Now()
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("error rebuilding after the load (%s): %w", stmt, err)
		}
		report(opts, Progress{Phase: "index", Customers: opts.Customers, Events: opts.Events, TotalCustomers: opts.Customers,
			TotalEvents: opts.Events, Elapsed: time.Since(began), Detail: fmt.Sprintf("%s (%.1fs)", describe(stmt), time.Since(t0).Seconds())})
	}
	res.Index = time.Since(began) - res.Load

	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("error committing the seed: %w", err)
	}
	committed = true

	report(opts, Progress{Phase: "analyze", Customers: opts.Customers, Events: opts.Events, TotalCustomers: opts.Customers,
		TotalEvents: opts.Events, Elapsed: time.Since(began)})
	// VACUUM as well as ANALYZE: it sets the visibility map, without which index-only scans
	// (segment previews, counts) read the heap until autovacuum comes by. Measured on a fresh
	// 1M/10M seed: a three-condition preview 1.79 s after ANALYZE alone, 0.72 s after VACUUM.
	for _, t := range seededTables {
		if _, err := conn.ExecContext(ctx, "VACUUM (ANALYZE) "+pq.QuoteIdentifier(t)); err != nil {
			// The data is in: seeding again would collide with it. Say so, and return what was done.
			res.Total = time.Since(began)
			return res, fmt.Errorf("the seed is committed, but VACUUM (ANALYZE) %s failed (run it yourself, or let autovacuum): %w", t, err)
		}
	}
	res.Total = time.Since(began)
	return res, nil
}

func report(opts Options, p Progress) {
	if opts.Progress != nil {
		opts.Progress(p)
	}
}

// load generates chunks on opts.Workers goroutines and copies them in order.
func load(ctx context.Context, conn *sql.Conn, opts Options, res *Result, began time.Time) error {
	g := newGenerator(opts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// free recycles chunk buffers; pending carries, in order, one channel per chunk that its
	// generated rows arrive on. Together they bound the memory in flight.
	inFlight := opts.Workers + 2
	free := make(chan *chunk, inFlight)
	for range inFlight {
		free <- &chunk{}
	}
	pending := make(chan chan *chunk, inFlight)
	go func() {
		defer close(pending)
		sem := make(chan struct{}, opts.Workers)
		for first := 0; first < opts.Customers; first += opts.ChunkCustomers {
			var c *chunk
			select {
			case c = <-free:
			case <-ctx.Done():
				return
			}
			c.reset(first, min(opts.ChunkCustomers, opts.Customers-first))
			done := make(chan *chunk, 1)
			select {
			case pending <- done:
			case <-ctx.Done():
				return
			}
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				g.fill(c)
				done <- c
			}()
		}
	}()

	var customers, events int
	res.Copies = map[string]time.Duration{}
	for done := range pending {
		t0 := time.Now()
		c := <-done
		res.Waits += time.Since(t0)
		for _, part := range []struct {
			table   string
			columns []string
			buf     *pgcopy.Buffer
			count   *int64
		}{
			{"customers", customerColumns, &c.customers, &res.Customers},
			{"identities", identityColumns, &c.identities, &res.Identities},
			{"consents", consentColumns, &c.consents, &res.Consents},
			{"interactions", interaction.Columns, &c.interactions, &res.Interactions},
		} {
			if part.buf.Rows() == 0 {
				continue
			}
			t0 := time.Now()
			n, err := pgcopy.Copy(ctx, conn, part.table, part.columns, part.buf)
			if err != nil {
				return seedError(err)
			}
			res.Copies[part.table] += time.Since(t0)
			*part.count += n
		}
		customers += c.n
		events += c.interactions.Rows()
		free <- c
		report(opts, Progress{Phase: "load", Customers: customers, Events: events, TotalCustomers: opts.Customers,
			TotalEvents: opts.Events, Elapsed: time.Since(began)})
	}
	if customers != opts.Customers {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("seed stopped after %d of %d customers", customers, opts.Customers)
	}
	return nil
}

// seedError explains the one failure a user can cause: seeding a database that already holds
// rows with the same identifiers.
func seedError(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return fmt.Errorf("%w (the database already holds data this seed would duplicate: seed an empty database, or use another --seed)", err)
	}
	return err
}

func tablesEmpty(ctx context.Context, conn *sql.Conn) (bool, error) {
	var empty bool
	err := conn.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM customers) AND NOT EXISTS (SELECT 1 FROM identities)
		AND NOT EXISTS (SELECT 1 FROM consents) AND NOT EXISTS (SELECT 1 FROM interactions)`).Scan(&empty)
	if err != nil {
		return false, fmt.Errorf("error checking whether the tables are empty: %w", err)
	}
	return empty, nil
}

// dropSecondary drops the foreign keys, the indexes and the primary keys nothing outside the
// seeded tables refers to (interactions', for one: its uuid keys arrive in random order, which
// makes a large primary-key index the slowest part of the load) and returns the statements that
// recreate them: primary keys, then indexes, then foreign keys. The definitions come from the
// catalog, so they match whatever the migrations made.
func dropSecondary(ctx context.Context, conn *sql.Conn) ([]string, error) {
	var drops, pkeys, fks, indexes []string
	// Foreign keys first (they depend on the primary keys), then primary keys.
	rows, err := conn.QueryContext(ctx, `
		SELECT c.contype::text, c.conname, t.relname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
		WHERE t.relname = ANY($1) AND t.relnamespace = current_schema()::regnamespace
		  AND (c.contype = 'f' OR (c.contype = 'p' AND NOT EXISTS (
		    SELECT 1 FROM pg_constraint r JOIN pg_class rt ON rt.oid = r.conrelid
		    WHERE r.contype = 'f' AND r.confrelid = t.oid AND NOT (rt.relname = ANY($1)))))
		ORDER BY c.contype = 'p', t.relname, c.conname`, pq.Array(seededTables))
	if err != nil {
		return nil, fmt.Errorf("error listing constraints: %w", err)
	}
	for rows.Next() {
		var typ, name, table, def string
		if err := rows.Scan(&typ, &name, &table, &def); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error listing constraints: %w", err)
		}
		drops = append(drops, "ALTER TABLE "+pq.QuoteIdentifier(table)+" DROP CONSTRAINT "+pq.QuoteIdentifier(name))
		add := "ALTER TABLE " + pq.QuoteIdentifier(table) + " ADD CONSTRAINT " + pq.QuoteIdentifier(name) + " " + def
		if typ == "p" {
			pkeys = append(pkeys, add)
		} else {
			fks = append(fks, add)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error listing constraints: %w", err)
	}

	rows, err = conn.QueryContext(ctx, `
		SELECT i.relname, pg_get_indexdef(i.oid)
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relname = ANY($1) AND t.relnamespace = current_schema()::regnamespace
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
		ORDER BY t.relname, i.relname`, pq.Array(seededTables))
	if err != nil {
		return nil, fmt.Errorf("error listing indexes: %w", err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error listing indexes: %w", err)
		}
		drops = append(drops, "DROP INDEX "+pq.QuoteIdentifier(name))
		indexes = append(indexes, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error listing indexes: %w", err)
	}

	for _, stmt := range drops {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("error preparing the bulk load (%s): %w", stmt, err)
		}
	}
	return append(append(pkeys, indexes...), fks...), nil
}

// describe shortens a rebuild statement for progress output.
func describe(stmt string) string {
	const max = 90
	if len(stmt) > max {
		return stmt[:max] + "…"
	}
	return stmt
}
