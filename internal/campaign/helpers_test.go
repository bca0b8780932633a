package campaign

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// fakeDestination is an in-memory provider: state is what it holds, ledger every contact each
// call carried. reject makes it refuse an email per contact; cancelAfter cancels the run's
// context once that many calls succeeded (the call itself is confirmed), as a stopped worker.
type fakeDestination struct {
	mu          sync.Mutex
	state       map[string]map[string]string
	ledger      [][]string // one entry per call: "upsert:<email>" / "remove:<email>"
	reject      map[string]string
	failCalls   int // the next failCalls calls fail as a whole (a 5xx after retries)
	cancelAfter int
	cancel      context.CancelFunc
	calls       int
}

func newFake() *fakeDestination {
	return &fakeDestination{state: map[string]map[string]string{}, reject: map[string]string{}}
}

func (f *fakeDestination) Test(context.Context) error { return nil }

func (f *fakeDestination) call(ctx context.Context, op string, emails []string) (provider.Result, error) {
	if err := ctx.Err(); err != nil {
		return provider.Result{}, err
	}
	if f.failCalls > 0 {
		f.failCalls--
		return provider.Result{}, errors.New("503 from provider")
	}
	entry := make([]string, len(emails))
	var res provider.Result
	for i, e := range emails {
		entry[i] = op + ":" + e
		if code, bad := f.reject[e]; bad {
			res.Failed = append(res.Failed, provider.ContactError{Email: e, Code: code, Message: "rejected"})
		}
	}
	f.ledger = append(f.ledger, entry)
	f.calls++
	if f.cancel != nil && f.calls == f.cancelAfter {
		f.cancel()
	}
	return res, nil
}

func (f *fakeDestination) Upsert(ctx context.Context, cs []provider.Contact) (provider.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	emails := make([]string, len(cs))
	for i, c := range cs {
		emails[i] = c.Email
	}
	res, err := f.call(ctx, "upsert", emails)
	if err != nil {
		return res, err
	}
	for _, c := range cs {
		if _, bad := f.reject[c.Email]; !bad {
			f.state[c.Email] = c.Fields
		}
	}
	return res, nil
}

func (f *fakeDestination) Remove(ctx context.Context, emails []string) (provider.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res, err := f.call(ctx, "remove", emails)
	if err != nil {
		return res, err
	}
	for _, e := range emails {
		if _, bad := f.reject[e]; !bad {
			delete(f.state, e)
		}
	}
	return res, nil
}

func (f *fakeDestination) Erase(ctx context.Context, emails []string) (provider.Result, error) {
	return f.Remove(ctx, emails)
}

// sent counts how often each contact was sent since ledger entry from.
func (f *fakeDestination) sent(from int) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, call := range f.ledger[from:] {
		for _, e := range call {
			out[e]++
		}
	}
	return out
}

func (f *fakeDestination) snapshot() map[string]map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]string{}
	for k, v := range f.state {
		out[k] = v
	}
	return out
}

// fakeSealer is a reversible stand-in for internal/secret.
type fakeSealer struct{}

func (fakeSealer) Seal(p []byte) (string, error) {
	return "sealed:" + base64.StdEncoding.EncodeToString(p), nil
}

func (fakeSealer) Open(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "sealed:")
	if !ok {
		return nil, errors.New("not sealed")
	}
	return base64.StdEncoding.DecodeString(rest)
}

type bundle struct {
	ctx    context.Context
	db     *sql.DB
	client *ent.Client
	fake   *fakeDestination
	dests  *Destinations
	syncer *Syncer
	opened []map[string]any // configs the Opener saw
}

func setup(t testing.TB) *bundle {
	t.Helper()
	db := testdb.New(t)
	b := &bundle{ctx: t.Context(), db: db, client: txn.NewClient(db), fake: newFake()}
	b.dests = &Destinations{Sealer: fakeSealer{}, Open: func(kind string, cfg map[string]any) (provider.Destination, error) {
		if _, ok := cfg["list_id"]; kind != "webhook" && !ok {
			return nil, errors.New("list_id is required")
		}
		b.opened = append(b.opened, cfg)
		return b.fake, nil
	}}
	b.syncer = &Syncer{DB: db, Destinations: b.dests, BatchSize: 2}
	return b
}

// customerOpts describe a test customer; nil consent records none.
type customerOpts struct {
	email   string
	consent *bool
	traits  string
}

func (b *bundle) customer(t testing.TB, o customerOpts) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	traits := o.traits
	if traits == "" {
		traits = "{}"
	}
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
		VALUES ($1, now(), now(), $2, '{}', NULLIF($3, ''), now(), now())`, id, traits, o.email)
	require.NoError(t, err)
	if o.consent != nil {
		b.consent(t, id, *o.consent)
	}
	return id
}

func (b *bundle) consent(t testing.TB, id uuid.UUID, granted bool) {
	t.Helper()
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO consents (id, customer_id, purpose, granted, recorded_at)
		VALUES ($1, $2, 'email_marketing', $3, clock_timestamp())`, uuid.Must(uuid.NewV7()), id, granted)
	require.NoError(t, err)
}

func (b *bundle) segment(t testing.TB) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := b.db.ExecContext(b.ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, status)
		VALUES ($1, now(), now(), $2, '{"trait":{"key":"x","op":"EXISTS"}}', 'ready')`, id, "seg "+id.String())
	require.NoError(t, err)
	return id
}

func (b *bundle) join(t testing.TB, seg uuid.UUID, ids ...uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		_, err := b.db.ExecContext(b.ctx, `INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at) VALUES ($1, $2, $3, now())`,
			uuid.Must(uuid.NewV7()), seg, id)
		require.NoError(t, err)
	}
}

func (b *bundle) leave(t testing.TB, seg uuid.UUID, id uuid.UUID) {
	t.Helper()
	_, err := b.db.ExecContext(b.ctx, `UPDATE segment_memberships SET exited_at = now() WHERE segment_id = $1 AND customer_id = $2 AND exited_at IS NULL`, seg, id)
	require.NoError(t, err)
}

func (b *bundle) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	_, err := b.db.ExecContext(b.ctx, q, args...)
	require.NoError(t, err)
}

// campaign creates a destination and a campaign on seg with the given merge fields.
func (b *bundle) campaign(t testing.TB, seg uuid.UUID, fields map[string]string) *ent.Campaign {
	t.Helper()
	d, err := b.dests.Create(b.ctx, b.client, DestinationInput{Kind: "mailchimp", Name: "mc",
		Config: map[string]any{"api_key": "0123456789abcdef-us6", "list_id": "L1"}})
	require.NoError(t, err)
	c, err := Create(b.ctx, b.client, CreateInput{Name: "c", SegmentID: seg, DestinationID: d.ID, Fields: fields})
	require.NoError(t, err)
	return c
}

func (b *bundle) now() time.Time { return time.Now() }
