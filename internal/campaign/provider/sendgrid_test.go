package provider_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
)

type sgBundle struct {
	fake   *providertest.SendGrid
	dest   provider.Destination
	sleeps *sleeper
}

func sgSetup(t *testing.T, fake *providertest.SendGridOpts, edit func(*provider.Config, *provider.Options)) sgBundle {
	t.Helper()
	f := providertest.NewSendGrid(t, fake)
	s := &sleeper{}
	cfg := provider.Config{Kind: provider.KindSendGrid, BaseURL: f.URL, APIKey: f.APIKey, ListID: f.ListID}
	opts := testOpts(s)
	if edit != nil {
		edit(&cfg, &opts)
	}
	return sgBundle{fake: f, dest: newDest(t, cfg, opts), sleeps: s}
}

func TestSendGridUpsertWaitsForImportJobs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		n     int
		batch int
		sizes []int
	}{
		{"small batches", 7, 3, []int{3, 3, 1}},
		{"30,000 in one call", 30000, 0, []int{30000}},
		{"30,001 splits", 30001, 0, []int{30000, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := sgSetup(t, &providertest.SendGridOpts{PollsUntilDone: 2}, func(c *provider.Config, _ *provider.Options) { c.BatchSize = tc.batch })
			cs := contacts(tc.n, "s")
			res, err := b.dest.Upsert(t.Context(), cs)
			require.NoError(t, err)
			require.Empty(t, res.Failed)
			require.Len(t, res.Confirmed, tc.n)
			require.ElementsMatch(t, tc.sizes, callSizes(b.fake.Ledger(), "upsert"))
			require.Zero(t, b.fake.PendingJobs(), "every job was polled to its end")
			require.Len(t, b.fake.ListMembers(), tc.n)
			require.NotEmpty(t, b.sleeps.all(), "waited between polls")
		})
	}
}

func TestSendGridSixMegabyteLimit(t *testing.T) {
	t.Parallel()
	b := sgSetup(t, nil, nil)
	big := strings.Repeat("x", 100_000)
	cs := contacts(100, "big") // ~10 MB in all
	for i := range cs {
		cs[i].Fields["NOTE"] = big
	}
	res, err := b.dest.Upsert(t.Context(), cs)
	require.NoError(t, err)
	require.Len(t, res.Confirmed, 100)
	sizes := callSizes(b.fake.Ledger(), "upsert")
	require.Len(t, sizes, 2)
	require.Equal(t, 100, sizes[0]+sizes[1])

	huge := provider.Contact{Email: "huge@example.com", Fields: map[string]string{"NOTE": strings.Repeat("y", provider.SendGridMaxBytes)}}
	res, err = b.dest.Upsert(t.Context(), []provider.Contact{huge, cs[0]})
	require.NoError(t, err)
	require.Equal(t, []string{"huge@example.com"}, failedEmails(res))
	require.Equal(t, "too_large", res.Failed[0].Code)
	require.Equal(t, []string{cs[0].Email}, res.Confirmed)
}

func TestSendGridPerContactErrors(t *testing.T) {
	t.Parallel()
	b := sgSetup(t, nil, nil)
	b.fake.Reject("bounced@example.com", "email bounced for bounced@example.com")
	cs := []provider.Contact{
		{Email: "a@example.com", Fields: map[string]string{"FNAME": "Ann", "LNAME": "Lee", "TIER": "gold"}},
		{Email: "bounced@example.com"},
		{Email: "broken"},
		{Email: "b@example.com"},
	}
	res, err := b.dest.Upsert(t.Context(), cs)
	require.NoError(t, err)
	require.Equal(t, []string{"bounced@example.com", "broken"}, failedEmails(res))
	for _, f := range res.Failed {
		require.NotContains(t, f.Message, "@example.com")
	}
	require.Equal(t, []string{"a@example.com", "b@example.com"}, sorted(res.Confirmed))
	require.Equal(t, []string{"a@example.com", "b@example.com"}, b.fake.ListMembers())
	c, ok := b.fake.Contact("a@example.com")
	require.True(t, ok)
	require.Equal(t, "Ann", c.Fields["first_name"])
	require.Equal(t, "Lee", c.Fields["last_name"])
	require.Equal(t, map[string]any{"TIER": "gold"}, c.Fields["custom_fields"])
}

func TestSendGridRateLimitReset(t *testing.T) {
	t.Parallel()
	b := sgSetup(t, nil, nil)
	b.fake.ThrottleNext(1, fixedNow.Add(5*time.Second))
	b.fake.FailNext(1, 502)
	res, err := b.dest.Upsert(t.Context(), contacts(2, "rl"))
	require.NoError(t, err)
	require.Len(t, res.Confirmed, 2)
	require.Equal(t, 5*time.Second, b.sleeps.all()[0], "X-RateLimit-Reset honoured")
	require.Len(t, callSizes(b.fake.Ledger(), "upsert"), 1, "a refused request is not processed")
}

func TestSendGridRemoveAndErase(t *testing.T) {
	t.Parallel()
	b := sgSetup(t, nil, nil)
	cs := contacts(150, "rm")
	_, err := b.dest.Upsert(t.Context(), cs)
	require.NoError(t, err)

	gone := append(emailsOf(cs)[:120], "unknown@example.com")
	res, err := b.dest.Remove(t.Context(), gone)
	require.NoError(t, err)
	require.ElementsMatch(t, gone, res.Confirmed)
	require.Equal(t, emailsOf(cs)[120:], b.fake.ListMembers())
	require.Len(t, b.fake.Contacts(), 150, "removal from the list keeps the contact")
	require.ElementsMatch(t, []int{100, 21}, callSizes(b.fake.Ledger(), "search"))

	res, err = b.dest.Erase(t.Context(), emailsOf(cs)[:10])
	require.NoError(t, err)
	require.Len(t, res.Confirmed, 10)
	require.Len(t, b.fake.Contacts(), 140)
	_, ok := b.fake.Contact(cs[0].Email)
	require.False(t, ok)

	res, err = b.dest.Remove(t.Context(), []string{"nobody@example.com"})
	require.NoError(t, err)
	require.Equal(t, []string{"nobody@example.com"}, res.Confirmed, "search 404: nothing held")
}

func TestSendGridErrors(t *testing.T) {
	t.Parallel()
	t.Run("401 not retried", func(t *testing.T) {
		t.Parallel()
		b := sgSetup(t, nil, func(c *provider.Config, _ *provider.Options) { c.APIKey = "SG.wrong" })
		err := b.dest.Test(t.Context())
		var ae *provider.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 401, ae.Status)
		require.Equal(t, 1, b.fake.Requests())
		require.NotContains(t, err.Error(), "SG.wrong")
	})
	t.Run("poll timeout leaves contacts unknown", func(t *testing.T) {
		t.Parallel()
		b := sgSetup(t, &providertest.SendGridOpts{PollsUntilDone: 1000}, func(_ *provider.Config, o *provider.Options) {
			o.PollTimeout = time.Nanosecond
			o.Now = time.Now
		})
		res, err := b.dest.Upsert(t.Context(), contacts(3, "slow"))
		require.ErrorContains(t, err, "pending")
		require.Empty(t, res.Confirmed)
		require.Empty(t, res.Failed)
	})
	t.Run("config", func(t *testing.T) {
		t.Parallel()
		for _, cfg := range []provider.Config{
			{Kind: provider.KindSendGrid, ListID: "l"},
			{Kind: provider.KindSendGrid, APIKey: "k"},
			{Kind: provider.KindSendGrid, APIKey: "k", ListID: "l", BatchSize: 30001},
		} {
			_, err := provider.New(cfg, provider.Options{})
			var ce *provider.ConfigError
			require.ErrorAs(t, err, &ce)
		}
	})
}

func TestSendGridErrorsFileOnAnotherHostGetsNoKey(t *testing.T) {
	t.Parallel()
	b := sgSetup(t, &providertest.SendGridOpts{ErrorsElsewhere: true}, nil)
	b.fake.Reject("bounced@example.com", "email bounced")
	res, err := b.dest.Upsert(t.Context(), []provider.Contact{{Email: "a@example.com"}, {Email: "bounced@example.com"}})
	require.NoError(t, err)
	require.Equal(t, []string{"bounced@example.com"}, failedEmails(res))
	require.Equal(t, []string{"a@example.com"}, res.Confirmed)
	require.Equal(t, []string{""}, b.fake.ErrorsAuth(), "the errors host received no Authorization header")
}
