package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"
)

// The GraphQL side of `cairn bench reads`; reads_baseline.go answers the same data by hand.
const (
	// ProfileQuery is a profile: the customer, its identities and its 20 newest interactions.
	ProfileQuery = `query Profile($id: ID!) { customer(id: $id) {
  id email phone traits firstSeenAt lastSeenAt
  identities { type value }
  interactions(first: 20, orderBy: {field: OCCURRED_AT, direction: DESC}) {
    totalCount edges { node { id kind event occurredAt properties } } }
} }`
	// CustomersQuery is a list page: 50 live customers seen before $before, newest first.
	CustomersQuery = `query Customers($before: Time!) {
  customers(first: 50, where: {lastSeenAtLT: $before}, orderBy: {field: LAST_SEEN_AT, direction: DESC}) {
    edges { node { id email traits lastSeenAt } } pageInfo { hasNextPage } }
}`
	// MembersQuery is a page of 50 members of a segment after a cursor.
	MembersQuery = `query Members($id: ID!, $after: Cursor) { segment(id: $id) {
  members(first: 50, after: $after) { edges { node { id email traits lastSeenAt } } pageInfo { hasNextPage } }
} }`
)

// ReadCases are the reads `cairn bench reads` knows, in the order it runs them.
var ReadCases = []string{"profile", "customers", "members"}

// ReadsOptions configures RunReads.
type ReadsOptions struct {
	URL         string // running server; its GraphQL endpoint is URL + "/graphql"
	Key         string // API key with the read scope
	AllowRemote bool
	DB          *sql.DB       // the server's database: ids to ask for, and the baselines' queries
	Clients     int           // closed-loop clients (default 32)
	Phase       time.Duration // one phase of one side (default 5 s)
	Rounds      int           // alternations of GraphQL and baseline per case (default 3)
	Cases       []string      // subset of ReadCases (default all)
	// SegmentID is the segment whose members are read; uuid.Nil makes a temporary one of about
	// a fifth of the customers, deleted at the end.
	SegmentID uuid.UUID
	Seed      uint64
	// ServerPID is the server's process on this machine, whose CPU time per request is then
	// reported (0: not reported).
	ServerPID int
	Log       io.Writer // progress (nil: none)
}

func (o *ReadsOptions) defaults() error {
	if o.Clients == 0 {
		o.Clients = 32
	}
	if o.Phase == 0 {
		o.Phase = 5 * time.Second
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	if len(o.Cases) == 0 {
		o.Cases = ReadCases
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	switch {
	case o.Key == "":
		return errors.New("an API key with the read scope is required")
	case o.Clients < 1 || o.Clients > 1024:
		return errors.New("clients must be between 1 and 1024")
	case o.Phase < 100*time.Millisecond || o.Phase > MaxDuration:
		return fmt.Errorf("a phase must last between 100ms and %s", MaxDuration)
	case o.Rounds < 1 || o.Rounds > 100:
		return errors.New("rounds must be between 1 and 100")
	}
	for _, c := range o.Cases {
		if !slices.Contains(ReadCases, c) {
			return fmt.Errorf("unknown read %q (known: %s)", c, strings.Join(ReadCases, ", "))
		}
	}
	return CheckTarget(o.URL, o.AllowRemote)
}

// Validate checks the options (filling defaults) without running anything.
func (o ReadsOptions) Validate() error { return o.defaults() }

// ReadResult is one read's GraphQL and baseline phases, each merged over the rounds.
type ReadResult struct {
	Name              string
	GraphQL, Baseline ClosedLoop
}

// Ratio is GraphQL's requests/s over the baseline's; 0 when unknown.
func (r ReadResult) Ratio() float64 {
	if b := r.Baseline.PerSec(); b > 0 {
		return r.GraphQL.PerSec() / b
	}
	return 0
}

// RunReads times each read over GraphQL and through the baseline, alternating phases.
func RunReads(ctx context.Context, opts ReadsOptions) ([]ReadResult, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if opts.DB == nil {
		return nil, errors.New("bench reads needs the server's database")
	}
	fx, err := loadFixtures(ctx, opts.DB, opts.SegmentID, opts.Cases)
	if err != nil {
		return nil, err
	}
	defer fx.cleanup(context.WithoutCancel(ctx), opts.DB)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("error listening for the baseline: %w", err)
	}
	base := &http.Server{Handler: NewBaseline(opts.DB), ReadHeaderTimeout: 10 * time.Second}
	go base.Serve(ln) //nolint:errcheck // ends with Close
	defer base.Close()

	c := &readClient{
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 2 * opts.Clients, MaxIdleConnsPerHost: 2 * opts.Clients, DisableCompression: true,
		}},
		gql: strings.TrimRight(opts.URL, "/") + "/graphql", base: "http://" + ln.Addr().String(), key: opts.Key,
	}
	var out []ReadResult
	for _, name := range opts.Cases {
		gql, baseline := fx.requests(c, name)
		res := ReadResult{Name: name}
		// A warm-up of each side fills the caches and pools, then the sides alternate (which
		// goes first alternates too), so both see the same machine load.
		warm := RunClosedLoop(ctx, name+" warm-up", opts.Clients, opts.Phase/2, opts.Seed, gql)
		if strings.HasPrefix(warm.FirstError, rateLimitedPrefix) {
			return out, errors.New("the server rate-limits the bench's API key (HTTP 429): start it with CAIRN_GRAPHQL_RATE=off to measure reads")
		}
		RunClosedLoop(ctx, name+" warm-up", opts.Clients, opts.Phase/2, opts.Seed, baseline)
		for round := range opts.Rounds {
			seed := opts.Seed + uint64(round+1)*7919
			phase := func(into *ClosedLoop, pid int, req Request) func() {
				return func() {
					cpu := startPhaseCPU(ctx, opts.DB, pid)
					p := RunClosedLoop(ctx, name, opts.Clients, opts.Phase, seed, req)
					cpu.stop(ctx, &p)
					into.Merge(p)
				}
			}
			sides := []func(){phase(&res.GraphQL, opts.ServerPID, gql), phase(&res.Baseline, 0, baseline)}
			if round%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			sides[0]()
			sides[1]()
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		fmt.Fprintf(opts.Log, "reads: %s: GraphQL %.0f/s, baseline %.0f/s\n", name, res.GraphQL.PerSec(), res.Baseline.PerSec())
		out = append(out, res)
	}
	return out, nil
}

// fixtures are what the reads ask for: live customer ids, the last_seen_at range, and a
// segment with its member ids.
type fixtures struct {
	customers        []uuid.UUID
	seenFrom, seenTo time.Time
	segment          uuid.UUID
	members          []uuid.UUID
	madeSegment      bool
}

func loadFixtures(ctx context.Context, db *sql.DB, segment uuid.UUID, cases []string) (*fixtures, error) {
	fx := &fixtures{segment: segment}
	rows, err := db.QueryContext(ctx, `SELECT id FROM customers WHERE merged_into_id IS NULL ORDER BY random() LIMIT 50000`)
	if err != nil {
		return nil, fmt.Errorf("error loading customer ids: %w", err)
	}
	if fx.customers, err = scanIDs(rows); err != nil {
		return nil, err
	}
	if len(fx.customers) == 0 {
		return nil, errors.New("the database holds no customers: seed it first (cairn seed)")
	}
	if err := db.QueryRowContext(ctx, `SELECT min(last_seen_at), max(last_seen_at) FROM customers WHERE merged_into_id IS NULL`).
		Scan(&fx.seenFrom, &fx.seenTo); err != nil {
		return nil, fmt.Errorf("error loading the last_seen_at range: %w", err)
	}
	if !slices.Contains(cases, "members") {
		return fx, nil
	}
	if fx.segment == uuid.Nil {
		if err := fx.makeSegment(ctx, db); err != nil {
			return nil, err
		}
	}
	rows, err = db.QueryContext(ctx, `SELECT customer_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL ORDER BY random() LIMIT 50000`, fx.segment)
	if err != nil {
		return nil, fmt.Errorf("error loading segment members: %w", err)
	}
	if fx.members, err = scanIDs(rows); err != nil {
		return nil, err
	}
	if len(fx.members) == 0 {
		fx.cleanup(ctx, db)
		return nil, fmt.Errorf("segment %s has no members", fx.segment)
	}
	return fx, nil
}

// makeSegment writes a temporary segment holding about a fifth of the live customers.
func (fx *fixtures) makeSegment(ctx context.Context, db *sql.DB) error {
	fx.segment, fx.madeSegment = uuid.New(), true
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	// Computed now and refreshed yearly: a running server's scheduler must not recompute it
	// (from its rule: nearly every customer) in the middle of the bench, which it did, slowing
	// whichever side ran meanwhile by 10x.
	if _, err := tx.ExecContext(ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, status, last_computed_at, refresh_every_seconds)
		VALUES ($1, now(), now(), $2, '{"trait":{"key":"plan","op":"EXISTS"}}', 'ready', now(), 366 * 86400)`, fx.segment, "bench reads "+fx.segment.String()); err != nil {
		return fmt.Errorf("error creating the bench segment: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO segment_memberships (id, entered_at, customer_id, segment_id)
		SELECT gen_random_uuid(), now(), id, $1 FROM customers WHERE merged_into_id IS NULL AND random() < 0.2`, fx.segment); err != nil {
		return fmt.Errorf("error filling the bench segment: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `ANALYZE segment_memberships`)
	return err
}

func (fx *fixtures) cleanup(ctx context.Context, db *sql.DB) {
	if !fx.madeSegment {
		return
	}
	_, _ = db.ExecContext(ctx, `DELETE FROM segment_memberships WHERE segment_id = $1`, fx.segment)
	_, _ = db.ExecContext(ctx, `DELETE FROM segments WHERE id = $1`, fx.segment)
	fx.madeSegment = false
}

func scanIDs(rows *sql.Rows) ([]uuid.UUID, error) {
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// requests returns the GraphQL and baseline request of a read, each asking for the same random
// data given the same random numbers.
func (fx *fixtures) requests(c *readClient, name string) (gql, baseline Request) {
	switch name {
	case "profile":
		gql = func(ctx context.Context, rng *rand.Rand) error {
			id := fx.customers[rng.IntN(len(fx.customers))]
			return c.graphQL(ctx, ProfileQuery, map[string]any{"id": id})
		}
		baseline = func(ctx context.Context, rng *rand.Rand) error {
			id := fx.customers[rng.IntN(len(fx.customers))]
			return c.baseline(ctx, "/profile?id="+id.String())
		}
	case "customers":
		before := func(rng *rand.Rand) time.Time {
			span := fx.seenTo.Sub(fx.seenFrom)
			return fx.seenFrom.Add(time.Duration(rng.Int64N(int64(span) + 1))).UTC()
		}
		gql = func(ctx context.Context, rng *rand.Rand) error {
			return c.graphQL(ctx, CustomersQuery, map[string]any{"before": before(rng).Format(time.RFC3339Nano)})
		}
		baseline = func(ctx context.Context, rng *rand.Rand) error {
			return c.baseline(ctx, "/customers?before="+url.QueryEscape(before(rng).Format(time.RFC3339Nano)))
		}
	case "members":
		gql = func(ctx context.Context, rng *rand.Rand) error {
			after := fx.members[rng.IntN(len(fx.members))]
			return c.graphQL(ctx, MembersQuery, map[string]any{"id": fx.segment, "after": Cursor(after)})
		}
		baseline = func(ctx context.Context, rng *rand.Rand) error {
			after := fx.members[rng.IntN(len(fx.members))]
			return c.baseline(ctx, "/members?segment="+fx.segment.String()+"&after="+after.String())
		}
	}
	return gql, baseline
}

// Cursor is the Relay cursor of the node with id in a connection ordered by id.
func Cursor(id uuid.UUID) string {
	var b strings.Builder
	entgql.Cursor[uuid.UUID]{ID: id}.MarshalGQL(&b)
	return strings.Trim(b.String(), `"`)
}

// rateLimitedPrefix starts the error of a request the server refused with 429: a bench of a
// rate-limited key measures the limit, not the reads, so RunReads stops on it.
const rateLimitedPrefix = "HTTP 429"

// readClient sends the reads and checks that each answer is data, not an error.
type readClient struct {
	http      *http.Client
	gql, base string
	key       string
}

func (c *readClient) graphQL(ctx context.Context, query string, vars map[string]any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.gql, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	return c.do(req)
}

func (c *readClient) baseline(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	return c.do(req)
}

func (c *readClient) do(req *http.Request) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return errors.New(rateLimitedPrefix)
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte(`{"data":{`)) {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return nil
}
