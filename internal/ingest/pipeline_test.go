package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// TestConcurrentNewIdentityMakesOneCustomer: 50 goroutines identify/track the same new
// anonymousId and userId at once, through HTTP; exactly one customer results.
func TestConcurrentNewIdentityMakesOneCustomer(t *testing.T) {
	t.Parallel()
	for _, writers := range []int{1, 4} {
		t.Run(fmt.Sprint("writers=", writers), func(t *testing.T) {
			t.Parallel()
			b := setup(t, &setupOpts{pipeline: &Options{Writers: writers}})
			var wg sync.WaitGroup
			start := make(chan struct{})
			statuses := make([]int, 50)
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					path, body := "/v1/track", map[string]any{"anonymousId": "anon-1", "userId": "user-1", "event": "Clicked"}
					if i%2 == 0 {
						path, body = "/v1/identify", map[string]any{"anonymousId": "anon-1", "userId": "user-1", "traits": map[string]any{"n": i}}
					}
					statuses[i] = b.post(t, path, body).status
				}()
			}
			close(start)
			wg.Wait()
			for i, s := range statuses {
				require.Equal(t, 200, s, "request %d", i)
			}
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers`))
			require.Equal(t, 2, b.count(t, `SELECT count(*) FROM identities`))
			require.Equal(t, 50, b.count(t, `SELECT count(*) FROM interactions`))
		})
	}
}

// TestConcurrentPipelinesMakeOneCustomer runs two pipelines on one database (two servers, or a
// server and `cairn import`): their transactions race on the same new identifiers.
func TestConcurrentPipelinesMakeOneCustomer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res, err := identity.New(context.Background(), b.db, identity.DefaultConfig(), nil) // its own cache, as in another process
	require.NoError(t, err)
	other, err := NewPipeline(context.Background(), b.db, res, &Options{Writers: 3})
	require.NoError(t, err)
	defer other.Close()
	submitAlternating(t, 40, b.pipe, other, func(i int) []wire.Message {
		return []wire.Message{
			{Type: wire.TypeTrack, Event: "E", AnonymousID: fmt.Sprint("shared-anon-", i%3), UserID: "shared-user"},
			{Type: wire.TypeIdentify, AnonymousID: fmt.Sprint("shared-anon-", (i+1)%3), Traits: obj(map[string]any{"email": "Shared@Example.org"})},
		}
	})
	// user_id, 3 shared anon ids, the email: one live profile holds them all.
	cust := b.customerOf(t, "user_id", "shared-user")
	require.Equal(t, cust, b.customerOf(t, "email", "shared@example.org"))
	for i := range 3 {
		require.Equal(t, cust, b.customerOf(t, "anonymous_id", fmt.Sprint("shared-anon-", i)))
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM identities i JOIN customers c ON c.id = i.customer_id WHERE c.merged_into_id IS NOT NULL`))
	require.Equal(t, 80, b.count(t, `SELECT count(*) FROM interactions`))
}

func TestDedupeByMessageID(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	msg := map[string]any{"anonymousId": "a", "event": "Paid", "messageId": "retry-me"}
	require.Equal(t, 200, b.post(t, "/v1/track", msg).status)
	require.Equal(t, 200, b.post(t, "/v1/track", msg).status, "the retry still succeeds")
	require.Equal(t, 200, b.post(t, "/v1/batch", map[string]any{"batch": []any{
		map[string]any{"type": "track", "anonymousId": "a", "event": "Paid", "messageId": "retry-me"},
		map[string]any{"type": "track", "anonymousId": "a", "event": "Twice", "messageId": "in-batch"},
		map[string]any{"type": "track", "anonymousId": "a", "event": "Twice", "messageId": "in-batch"},
	}}).status)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'retry-me'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'in-batch'`))
	res := b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Paid", AnonymousID: "a", MessageID: "retry-me"})
	require.Equal(t, Result{Duplicates: 1}, res)
	// A group that skipped the messageId check (no retry met lately) and holds a retried message
	// fails its COPY, and is committed again with the check.
	b.pipe.lastDuplicate.Store(0)
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Paid", AnonymousID: "a", MessageID: "retry-me"},
		wire.Message{Type: wire.TypeTrack, Event: "Paid", AnonymousID: "a", MessageID: "fresh"})
	require.Equal(t, Result{Stored: 1, Duplicates: 1}, res)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'fresh'`))
	// Missing messageIds are generated: two identical messages are two events.
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "NoID", AnonymousID: "a"}, wire.Message{Type: wire.TypeTrack, Event: "NoID", AnonymousID: "a"})
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'NoID'`))
}

// TestFailingRequestDoesNotPoisonItsGroup: a request that fails inside the shared transaction
// fails alone; the requests grouped with it commit.
func TestFailingRequestDoesNotPoisonItsGroup(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 1, Linger: 50 * time.Millisecond}})
	b.pipe.failHook = func(m *prepared) error {
		if m.event == "Poison" {
			return errors.New("poisoned message")
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			event := "Fine"
			if i == 3 {
				event = "Poison"
			}
			_, errs[i] = b.pipe.Submit(context.Background(), []wire.Message{{Type: wire.TypeTrack, Event: event, AnonymousID: fmt.Sprint("a", i)}}, "test")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 3 {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err, "request %d", i)
	}
	require.Equal(t, 9, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Poison'`))
}

// TestConcurrentRetriesStoredOnce: the same messages sent at once through two pipelines (two
// servers receiving a client's retry) are stored once, and every sender gets success.
func TestConcurrentRetriesStoredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	other, err := NewPipeline(context.Background(), b.db, b.res, nil)
	require.NoError(t, err)
	defer other.Close()
	submitAlternating(t, 20, b.pipe, other, func(int) []wire.Message {
		out := make([]wire.Message, 50)
		for i := range out {
			out[i] = wire.Message{Type: wire.TypeTrack, Event: "Paid", UserID: fmt.Sprint("u", i%5), MessageID: fmt.Sprint("same-", i)}
		}
		return out
	})
	require.Equal(t, 50, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM customers`))
}

// TestContentionNeverFailsRequests hammers overlapping identifiers (shared anonymousIds, users
// logging in on shared devices, emails linking profiles) from many clients through the HTTP
// handler with several writers: every request gets its 200 and every message is stored once.
func TestContentionNeverFailsRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 3}})
	const clients, requests, perRequest = 12, 15, 20
	var wg sync.WaitGroup
	statuses := make(chan response, clients*requests)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 3))
			for q := range requests {
				// Every client's q-th request draws from the same small pool of identifiers, new
				// to round q: the clients race to create, link and merge the same profiles.
				id := func(kind string, n int) string { return fmt.Sprintf("%s-%d-%d", kind, q, r.IntN(n)) }
				batch := make([]map[string]any, perRequest)
				for i := range batch {
					m := map[string]any{"messageId": fmt.Sprintf("c%d-q%d-m%d", c, q, i), "anonymousId": id("device", 8)}
					switch r.IntN(4) {
					case 0:
						m["type"], m["userId"] = "identify", id("user", 5)
						m["traits"] = map[string]any{"email": id("person", 6) + "@example.com", "n": i}
					case 1:
						m["type"], m["userId"], m["event"] = "track", id("user", 5), "Order Completed"
					case 2:
						m["type"], m["previousId"], m["userId"] = "alias", id("device", 8), id("user", 5)
					default:
						m["type"], m["name"] = "page", "Home"
					}
					batch[i] = m
				}
				statuses <- b.post(t, "/v1/batch", map[string]any{"batch": batch})
			}
		}()
	}
	wg.Wait()
	requireAllOK(t, statuses)
	t.Logf("retries: %v", b.retries(t))
	total := clients * requests * perRequest
	require.Equal(t, total, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, total, b.count(t, `SELECT count(DISTINCT message_id) FROM interactions`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.merged_into_id IS NOT NULL`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM (SELECT customer_id FROM identities WHERE type = 'user_id' GROUP BY customer_id HAVING count(*) > 1) x`))
}

// TestWritersDoNotRaceForNewIdentifiers: with several writers, groups that would claim the same
// new identifiers are committed one after the other (lockClaims), so none loses a claim race or
// deadlocks and has to be retried, and each new person is one customer.
func TestWritersDoNotRaceForNewIdentifiers(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 2}})
	const clients, rounds, perRequest = 8, 12, 10
	var wg sync.WaitGroup
	statuses := make(chan response, clients*rounds)
	for c := range clients {
		wg.Go(func() {
			for q := range rounds {
				// Every client's q-th request is about the same person, new in round q.
				batch := make([]map[string]any, perRequest)
				for i := range batch {
					batch[i] = map[string]any{"type": "track", "event": "Viewed", "messageId": fmt.Sprintf("c%d-q%d-m%d", c, q, i),
						"userId": fmt.Sprintf("user-%d", q), "anonymousId": fmt.Sprintf("device-%d", q)}
				}
				statuses <- b.post(t, "/v1/batch", map[string]any{"batch": batch})
			}
		})
	}
	wg.Wait()
	requireAllOK(t, statuses)
	require.Zero(t, b.retries(t), "no group lost a race for a new identifier")
	require.Equal(t, rounds, b.count(t, `SELECT count(*) FROM customers`))
	require.Equal(t, clients*rounds*perRequest, b.count(t, `SELECT count(*) FROM interactions`))
}

// TestIngestDoesNotWaitForTheDrain: while an incremental drain holds a customer's queued mark
// (deleted, not yet committed: it is re-evaluating segments), a new event about that customer
// commits at once and queues the customer again.
func TestIngestDoesNotWaitForTheDrain(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.addSegment(t)
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "First", UserID: "u"})
	cust := b.customerOf(t, "user_id", "u")
	drain, err := b.db.Begin()
	require.NoError(t, err)
	defer drain.Rollback() //nolint:errcheck
	_, err = drain.Exec(`DELETE FROM segment_dirty_customers WHERE customer_id = $1`, cust)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := b.pipe.Submit(ctx, []wire.Message{{Type: wire.TypeTrack, Event: "Second", UserID: "u"}}, "test")
	require.NoError(t, err, "the event must not wait for the drain's transaction")
	require.Equal(t, Result{Stored: 1}, res)
	require.NoError(t, drain.Commit())
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM segment_dirty_customers WHERE customer_id = $1`, cust), "queued again by the second event")
}

// TestBusyIsServiceUnavailable: a request that cannot be committed because of contention is
// answered 503 with Retry-After (clients retry 5xx), never 500.
func TestBusyIsServiceUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.pipe.failHook = func(m *prepared) error {
		if m.event == "Contended" {
			return fmt.Errorf("simulated: %w", identity.ErrConcurrentChange)
		}
		return nil
	}
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/track", strings.NewReader(`{"userId":"u","event":"Contended"}`))
	require.NoError(t, err)
	req.SetBasicAuth(b.key, "")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions`))
	require.Equal(t, 200, b.post(t, "/v1/track", map[string]any{"userId": "u", "event": "Fine"}).status)
}

// requireAllOK closes statuses and requires every response in it to be a 200.
func requireAllOK(t *testing.T, statuses chan response) {
	t.Helper()
	close(statuses)
	for resp := range statuses {
		require.Equal(t, 200, resp.status, "response %v", resp.body)
	}
}

// retries is the pipeline's count of retried group transactions.
func (b *testBundle) retries(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, b.pipe.m.retries.Write(&m))
	return m.GetCounter().GetValue()
}

// TestConnectionLostDuringCopy: a group whose connection dies just before its COPY is retried
// on another connection, so the request still succeeds and its event is stored once; the
// writer once hung for good instead, database/sql closing the connection under the writer's
// own open transaction.
func TestConnectionLostDuringCopy(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var once sync.Once
	terminated := 0
	b.pipe.copyHook = func() {
		once.Do(func() {
			// The writer's transaction is the only one open, waiting for its COPY.
			require.NoError(t, b.db.QueryRow(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction') t`).Scan(&terminated))
		})
	}
	submit := func(event string) (Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return b.pipe.Submit(ctx, []wire.Message{{Type: wire.TypeTrack, Event: event, UserID: "lost"}}, "test")
	}
	res, err := submit("Lost")
	require.NoError(t, err)
	require.Equal(t, 1, terminated, "the writer's connection was cut")
	require.Equal(t, Result{Stored: 1}, res)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE event = 'Lost'`))

	res, err = submit("After")
	require.NoError(t, err)
	require.Equal(t, Result{Stored: 1}, res)
}

// submitAlternating submits n requests at once, msgs(i) for the i-th, alternating between
// pipelines a and b, and requires every one to succeed.
func submitAlternating(t *testing.T, n int, a, b *Pipeline, msgs func(i int) []wire.Message) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if i%2 == 1 {
				p = b
			}
			_, err := p.Submit(context.Background(), msgs(i), "test")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestSecondPipelineOnOneRegistryRefused: metrics registered twice would leave the second
// pipeline's counters unexported, so the second registration is an error.
func TestSecondPipelineOnOneRegistryRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	reg := prometheus.NewRegistry()
	first, err := NewPipeline(context.Background(), b.db, b.res, &Options{Registerer: reg})
	require.NoError(t, err)
	defer first.Close()
	_, err = NewPipeline(context.Background(), b.db, b.res, &Options{Registerer: reg})
	require.ErrorContains(t, err, "error registering ingest metrics")
}

// TestWriterSetsAsideClaimedRequests: while one writer's open group holds a new identifier's
// claim, the other writer commits the requests of its group that do not need it at once,
// instead of idling until that group ends, and commits the one that does need it afterwards.
func TestWriterSetsAsideClaimedRequests(t *testing.T) {
	t.Parallel()
	// Linger makes the second writer gather both later requests into one group.
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 2, Linger: time.Second}})
	held, release := make(chan struct{}), make(chan struct{})
	var hooks sync.Mutex
	calls := 0
	b.pipe.copyHook = func() {
		hooks.Lock()
		calls++
		first := calls == 1
		hooks.Unlock()
		if first { // the group claiming "x" stays open until released
			close(held)
			<-release
		}
	}
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	submit := func(event, user string) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := b.pipe.Submit(context.Background(), []wire.Message{{Type: wire.TypeTrack, Event: event, UserID: user}}, "test")
			done <- err
		}()
		return done
	}
	first := submit("First", "x")
	<-held
	again := submit("Again", "x") // waits for the open group's claim on "x"
	other := submit("Other", "y") // needs no claim another group holds
	select {
	case err := <-other:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("a request needing no held claim waited for the group holding one")
	}
	select {
	case err := <-again:
		t.Fatalf("a request committed while another group held its identifier's claim (err %v)", err)
	default:
	}
	releaseOnce.Do(func() { close(release) })
	require.NoError(t, <-first)
	require.NoError(t, <-again)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers c JOIN identities i ON i.customer_id = c.id WHERE i.value = 'x'`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM interactions i JOIN identities d ON d.customer_id = i.customer_id WHERE d.value = 'x'`))
	require.Zero(t, b.retries(t), "no group lost a race for a new identifier")
}

// TestDeferClaimedBounds: a request is set aside only while another group claims one of its new
// identifiers, at most maxDefers times, and never when every request of the group would wait.
func TestDeferClaimedBounds(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Writers: 2}})
	p := b.pipe
	req := func(user string) *request {
		pm, err := p.prepare(&wire.Message{Type: wire.TypeTrack, Event: "E", UserID: user}, time.Now())
		require.NoError(t, err)
		return &request{msgs: []*prepared{pm}}
	}
	// Another writer's open group claims "held".
	unlock := p.lockClaims([]*request{req("held")})
	defer unlock()

	waits, free := req("held"), req("free")
	for i := range maxDefers {
		now, later := p.deferClaimed([]*request{waits, free})
		require.Equal(t, []*request{free}, now, "round %d", i)
		require.Equal(t, []*request{waits}, later, "round %d", i)
	}
	now, later := p.deferClaimed([]*request{waits, free})
	require.Len(t, now, 2, "set aside maxDefers times already: committed (waiting) this time")
	require.Empty(t, later)

	onlyWaiting := []*request{req("held"), req("held")}
	now, later = p.deferClaimed(onlyWaiting)
	require.Equal(t, onlyWaiting, now, "nothing to commit meanwhile: the group waits whole")
	require.Empty(t, later)

	known, other := req("free"), req("other")
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", UserID: "free"})
	now, later = p.deferClaimed([]*request{known, other})
	require.Len(t, now, 2)
	require.Empty(t, later)
	require.NotNil(t, known.claims, "computed")
	require.Empty(t, known.claims, "a known identifier needs no claim")
	require.Len(t, other.claims, 1, "a new user_id")

	// lockClaims takes the computed keys once; a retry of the group computes them afresh.
	release := p.lockClaims(now)
	require.Nil(t, known.claims)
	require.Nil(t, other.claims)
	now, later = p.deferClaimed([]*request{req("other"), req("free")})
	require.Len(t, later, 1, "other's new user_id is claimed by the group just locked")
	require.Len(t, now, 1)
	release()
	now, later = p.deferClaimed([]*request{req("other"), req("free")})
	require.Len(t, now, 2, "released")
	require.Empty(t, later)
}
