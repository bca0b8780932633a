package provider_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
)

type providertestCall = providertest.Call

type mcBundle struct {
	fake   *providertest.Mailchimp
	dest   provider.Destination
	sleeps *sleeper
}

func mcSetup(t *testing.T, fake *providertest.MailchimpOpts, edit func(*provider.Config, *provider.Options)) mcBundle {
	t.Helper()
	f := providertest.NewMailchimp(t, fake)
	s := &sleeper{}
	cfg := provider.Config{Kind: provider.KindMailchimp, BaseURL: f.URL, APIKey: f.APIKey, ListID: f.ListID, AudienceName: "Cairn: VIPs"}
	opts := testOpts(s)
	if edit != nil {
		edit(&cfg, &opts)
	}
	return mcBundle{fake: f, dest: newDest(t, cfg, opts), sleeps: s}
}

func TestMailchimpUpsertBatchesAtTheLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		n     int
		sizes []int
	}{
		{"one", 1, []int{1}},
		{"exactly 500", 500, []int{500}},
		{"501 splits", 501, []int{500, 1}},
		{"1201", 1201, []int{500, 500, 201}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := mcSetup(t, nil, nil)
			cs := contacts(tc.n, "m")
			res, err := b.dest.Upsert(t.Context(), cs)
			require.NoError(t, err)
			require.Empty(t, res.Failed)
			require.Equal(t, emailsOf(cs), sorted(res.Confirmed))
			ledger := b.fake.Ledger()
			require.ElementsMatch(t, tc.sizes, callSizes(ledger, "upsert"))
			require.ElementsMatch(t, tc.sizes, callSizes(ledger, "segment_add"))
			require.Empty(t, b.fake.Duplicates("upsert"))
			require.Equal(t, emailsOf(cs), b.fake.SegmentMembers("Cairn: VIPs"))
			require.Equal(t, emailsOf(cs), b.fake.WithStatus("subscribed"))
			require.Zero(t, b.fake.OverLimit())
		})
	}
}

func TestMailchimpFakeRefuses501Members(t *testing.T) {
	t.Parallel()
	// The fake enforces the limit the client relies on: a client with a larger batch is refused.
	f := providertest.NewMailchimp(t, nil)
	body := `{"update_existing":true,"members":[` + repeatJSON(`{"email_address":"a@b.c","status_if_new":"subscribed"}`, 501) + `]}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.URL+"/3.0/lists/"+f.ListID, stringsReader(body))
	require.NoError(t, err)
	req.SetBasicAuth("x", f.APIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	_, err = provider.New(provider.Config{Kind: provider.KindMailchimp, BaseURL: f.URL, APIKey: "k-us6", ListID: "l", AudienceName: "a", BatchSize: 501}, provider.Options{AllowPrivate: true})
	var ce *provider.ConfigError
	require.ErrorAs(t, err, &ce)
}

func TestMailchimpPerMemberErrors(t *testing.T) {
	t.Parallel()
	b := mcSetup(t, nil, nil)
	b.fake.Reject("rejected@example.com", "ERROR_GENERIC", "email_address")
	b.fake.SetMember("unsub@example.com", "unsubscribed", nil)
	cs := []provider.Contact{
		{Email: "ok@example.com", Fields: map[string]string{"FNAME": "Ok"}},
		{Email: "rejected@example.com"},
		{Email: "not-an-email"},
		{Email: "unsub@example.com", Fields: map[string]string{"FNAME": "Un"}},
		{Email: "ok@example.com"}, // a repeat is sent once
	}
	res, err := b.dest.Upsert(t.Context(), cs)
	require.NoError(t, err)
	require.Equal(t, []string{"not-an-email", "rejected@example.com"}, failedEmails(res))
	for _, f := range res.Failed {
		require.Equal(t, "ERROR_GENERIC", f.Code)
		require.Equal(t, "email_address", f.Field)
		require.NotContains(t, f.Message, "@example.com", "provider text is redacted")
		require.NotContains(t, f.Error(), "@example.com")
	}
	require.Equal(t, []string{"ok@example.com", "unsub@example.com"}, sorted(res.Confirmed))
	require.Equal(t, []string{"ok@example.com", "unsub@example.com"}, b.fake.SegmentMembers("Cairn: VIPs"))
	m, ok := b.fake.Member("unsub@example.com")
	require.True(t, ok)
	require.Equal(t, "unsubscribed", m.Status, "status_if_new never resubscribes an existing member")
	require.Equal(t, "Un", m.MergeFields["FNAME"])
	require.Empty(t, b.fake.Duplicates("upsert"), "a repeated contact is sent once")
}

func TestMailchimpSegmentFoundOrCreatedOnce(t *testing.T) {
	t.Parallel()
	b := mcSetup(t, nil, nil)
	_, err := b.dest.Upsert(t.Context(), contacts(3, "a"))
	require.NoError(t, err)
	// A second client for the same audience finds the segment by name.
	other := newDest(t, provider.Config{Kind: provider.KindMailchimp, BaseURL: b.fake.URL, APIKey: b.fake.APIKey, ListID: b.fake.ListID, AudienceName: "Cairn: VIPs"}, testOpts(&sleeper{}))
	_, err = other.Upsert(t.Context(), contacts(2, "b"))
	require.NoError(t, err)
	require.Equal(t, 1, b.fake.SegmentCount())
	require.Len(t, b.fake.SegmentMembers("Cairn: VIPs"), 5)
}

func TestMailchimpRemoveArchivesAndErase(t *testing.T) {
	t.Parallel()
	b := mcSetup(t, nil, nil)
	cs := contacts(4, "r")
	_, err := b.dest.Upsert(t.Context(), cs)
	require.NoError(t, err)

	res, err := b.dest.Remove(t.Context(), []string{cs[0].Email, cs[1].Email, "never-synced@example.com"})
	require.NoError(t, err)
	require.Empty(t, res.Failed)
	require.ElementsMatch(t, []string{cs[0].Email, cs[1].Email, "never-synced@example.com"}, res.Confirmed)
	require.Equal(t, []string{cs[0].Email, cs[1].Email}, b.fake.WithStatus("archived"))
	require.Equal(t, []string{cs[2].Email, cs[3].Email}, b.fake.SegmentMembers("Cairn: VIPs"))

	res, err = b.dest.Erase(t.Context(), []string{cs[0].Email, cs[2].Email, "never-synced@example.com"})
	require.NoError(t, err)
	require.Len(t, res.Confirmed, 3)
	require.Equal(t, []string{cs[0].Email, cs[2].Email}, b.fake.Deleted())
	require.Equal(t, []string{cs[3].Email}, b.fake.SegmentMembers("Cairn: VIPs"))

	// Mailchimp refuses to re-import a permanently deleted contact: a per-member error.
	res, err = b.dest.Upsert(t.Context(), []provider.Contact{cs[0], cs[1]})
	require.NoError(t, err)
	require.Equal(t, []string{cs[0].Email}, failedEmails(res))
	require.Equal(t, []string{cs[1].Email}, res.Confirmed, "an archived member comes back")
	m, _ := b.fake.Member(cs[1].Email)
	require.Equal(t, "subscribed", m.Status)
}

func TestMailchimpLeaveKeepsTheSubscription(t *testing.T) {
	t.Parallel()
	b := mcSetup(t, nil, nil)
	cs := contacts(3, "l")
	_, err := b.dest.Upsert(t.Context(), cs)
	require.NoError(t, err)
	leaver, ok := b.dest.(provider.Leaver)
	require.True(t, ok)
	res, err := leaver.Leave(t.Context(), []string{cs[0].Email, "stranger@example.com"})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{cs[0].Email, "stranger@example.com"}, res.Confirmed)
	require.Equal(t, []string{cs[1].Email, cs[2].Email}, b.fake.SegmentMembers("Cairn: VIPs"))
	require.Equal(t, emailsOf(cs), b.fake.WithStatus("subscribed"), "leaving the segment does not archive")
}

func TestMailchimpRetries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		inject    func(f *providertest.Mailchimp)
		wantErr   bool
		temporary bool
		status    int
		requests  int           // requests for the first call (segment lookup)
		wait      time.Duration // a server-requested wait that must be among the sleeps
	}{
		{name: "429 Retry-After seconds", inject: func(f *providertest.Mailchimp) { f.ThrottleNext(2, "7") }, requests: 3, wait: 7 * time.Second},
		{name: "429 Retry-After date", inject: func(f *providertest.Mailchimp) {
			f.ThrottleNext(1, fixedNow.Add(90*time.Second).Format(http.TimeFormat))
		}, requests: 2, wait: 90 * time.Second},
		{name: "5xx retried", inject: func(f *providertest.Mailchimp) { f.FailNext(3, 503) }, requests: 4},
		{name: "5xx until attempts run out", inject: func(f *providertest.Mailchimp) { f.FailNext(10, 500) }, wantErr: true, temporary: true, status: 500, requests: 4},
		{name: "4xx not retried", inject: func(f *providertest.Mailchimp) { f.FailNext(1, 400) }, wantErr: true, status: 400, requests: 1},
		{name: "401 not retried", inject: func(f *providertest.Mailchimp) { f.FailNext(1, 401) }, wantErr: true, status: 401, requests: 1},
		{name: "429 asking too long ends the call", inject: func(f *providertest.Mailchimp) { f.ThrottleNext(1, "3600") }, wantErr: true, temporary: true, status: 429, requests: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := mcSetup(t, nil, nil)
			tc.inject(b.fake)
			res, err := b.dest.Upsert(t.Context(), contacts(3, "x"))
			if tc.wantErr {
				var ae *provider.APIError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, tc.status, ae.Status)
				require.Equal(t, tc.temporary, provider.IsTemporary(err))
				require.Empty(t, res.Confirmed)
				require.Equal(t, tc.requests, b.fake.Requests())
				require.Empty(t, b.fake.SegmentMembers("Cairn: VIPs"))
				return
			}
			require.NoError(t, err)
			require.Len(t, res.Confirmed, 3)
			// segment lookup (with its retries) + create + upsert + segment add
			require.Equal(t, tc.requests+3, b.fake.Requests())
			require.Len(t, b.sleeps.all(), tc.requests-1)
			if tc.wait > 0 {
				require.Contains(t, b.sleeps.all(), tc.wait)
			}
			for _, w := range b.sleeps.all() {
				require.LessOrEqual(t, w, 90*time.Second)
			}
		})
	}
}

func TestMailchimpErrorKeepsWhatWasConfirmed(t *testing.T) {
	t.Parallel()
	// One connection, batches of 2: segment lookup, create, then per batch upsert + segment add.
	// The second batch's upsert is refused (400): the first batch stays confirmed, the second
	// and third are unknown (neither confirmed nor failed).
	b := mcSetup(t, nil, func(c *provider.Config, o *provider.Options) {
		c.BatchSize = 2
		o.MaxConns = 1
	})
	b.fake.FailAfter(4, 1, 400)
	cs := contacts(6, "p")
	res, err := b.dest.Upsert(t.Context(), cs)
	var ae *provider.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 400, ae.Status)
	require.Equal(t, []string{cs[0].Email, cs[1].Email}, sorted(res.Confirmed))
	require.Empty(t, res.Failed)
	require.Equal(t, []string{cs[0].Email, cs[1].Email}, b.fake.SegmentMembers("Cairn: VIPs"))

	// The next attempt sends the unknown ones and completes.
	res, err = b.dest.Upsert(t.Context(), cs[2:])
	require.NoError(t, err)
	require.Len(t, res.Confirmed, 4)
	require.Equal(t, emailsOf(cs), b.fake.SegmentMembers("Cairn: VIPs"))
}

func TestMailchimpConnectionLimit(t *testing.T) {
	t.Parallel()
	b := mcSetup(t, &providertest.MailchimpOpts{Latency: 20 * time.Millisecond}, nil)
	// A second destination on the same account shares the 10 connections.
	other := newDest(t, provider.Config{Kind: provider.KindMailchimp, BaseURL: b.fake.URL, APIKey: b.fake.APIKey, ListID: b.fake.ListID, AudienceName: "Other"}, testOpts(&sleeper{}))
	done := make(chan error, 1)
	go func() {
		_, err := other.Upsert(context.Background(), contacts(5000, "o"))
		done <- err
	}()
	res, err := b.dest.Upsert(t.Context(), contacts(5000, "v"))
	require.NoError(t, err)
	require.NoError(t, <-done)
	require.Len(t, res.Confirmed, 5000)
	require.Zero(t, b.fake.OverLimit())
	require.LessOrEqual(t, b.fake.PeakConcurrent(), provider.MailchimpMaxConns)
	require.Greater(t, b.fake.PeakConcurrent(), 1, "batches run concurrently")
}

func TestMailchimpFakeConnectionLimitAnswers429(t *testing.T) {
	t.Parallel()
	// The fake refuses an 11th simultaneous request the way Mailchimp does.
	f := providertest.NewMailchimp(t, &providertest.MailchimpOpts{Latency: 200 * time.Millisecond})
	statuses := make(chan int, 15)
	for range 15 {
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL+"/3.0/ping", nil)
			req.SetBasicAuth("x", f.APIKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	count := map[int]int{}
	for range 15 {
		count[<-statuses]++
	}
	require.Equal(t, 15, count[200]+count[429])
	require.Positive(t, count[429])
	require.Equal(t, count[429], f.OverLimit())
}

func TestMailchimpCancellation(t *testing.T) {
	t.Parallel()
	t.Run("during a slow request", func(t *testing.T) {
		t.Parallel()
		b := mcSetup(t, &providertest.MailchimpOpts{Latency: time.Minute}, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := b.dest.Upsert(ctx, contacts(2, "c"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, provider.IsTemporary(err))
	})
	t.Run("during a backoff sleep", func(t *testing.T) {
		t.Parallel()
		b := mcSetup(t, nil, func(_ *provider.Config, o *provider.Options) {
			o.Retry = provider.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: func() float64 { return 1 }}
		})
		b.fake.FailNext(1, 503)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := b.dest.Upsert(ctx, contacts(2, "c"))
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestMailchimpTest(t *testing.T) {
	t.Parallel()
	b := mcSetup(t, nil, nil)
	require.NoError(t, b.dest.Test(t.Context()))

	for _, tc := range []struct {
		name   string
		edit   func(*provider.Config)
		status int
	}{
		{"wrong key", func(c *provider.Config) { c.APIKey = "wrong-us6" }, 401},
		{"wrong list", func(c *provider.Config) { c.ListID = "nope" }, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := provider.Config{Kind: provider.KindMailchimp, BaseURL: b.fake.URL, APIKey: b.fake.APIKey, ListID: b.fake.ListID, AudienceName: "x"}
			tc.edit(&cfg)
			err := newDest(t, cfg, testOpts(&sleeper{})).Test(t.Context())
			var ae *provider.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.status, ae.Status)
			require.NotContains(t, err.Error(), cfg.APIKey)
		})
	}
}

func TestMailchimpConfigErrors(t *testing.T) {
	t.Parallel()
	base := provider.Config{Kind: provider.KindMailchimp, APIKey: "0123abcd-us6", ListID: "l1", AudienceName: "A"}
	cases := []struct {
		name  string
		edit  func(*provider.Config)
		field string
	}{
		{"no key", func(c *provider.Config) { c.APIKey = "" }, "apiKey"},
		{"key without data centre", func(c *provider.Config) { c.APIKey = "0123abcd" }, "apiKey"},
		{"key with odd data centre", func(c *provider.Config) { c.APIKey = "0123abcd-us6.evil.com/x" }, "apiKey"},
		{"no list", func(c *provider.Config) { c.ListID = " " }, "listId"},
		{"no audience name", func(c *provider.Config) { c.AudienceName = "" }, "audienceName"},
		{"batch too large", func(c *provider.Config) { c.BatchSize = 501 }, "batchSize"},
		{"plain http base", func(c *provider.Config) { c.BaseURL = "http://example.com" }, "baseUrl"},
		{"unknown kind", func(c *provider.Config) { c.Kind = "mailjet" }, "kind"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			tc.edit(&cfg)
			_, err := provider.New(cfg, provider.Options{})
			var ce *provider.ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.field, ce.Field)
			require.False(t, provider.IsTemporary(err))
		})
	}
	_, err := provider.New(base, provider.Options{})
	require.NoError(t, err, "data centre from the key's suffix")
}

func TestSubscriberHash(t *testing.T) {
	t.Parallel()
	// md5("urist.mcvankab@freddiesjokes.com"), Mailchimp's documented example.
	require.Equal(t, "62eeb292278cc15f5817cb78f7790b08", provider.SubscriberHash(" Urist.McVankab@freddiesjokes.com"))
}
