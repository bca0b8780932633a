package provider_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
)

// sleeper records the waits a destination asked for and returns at once.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

var fixedNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// testOpts: private addresses allowed (fakes listen on loopback), instant recorded sleeps, a
// fixed clock, 4 attempts.
func testOpts(s *sleeper) provider.Options {
	return provider.Options{
		AllowPrivate: true,
		Retry:        provider.RetryPolicy{MaxAttempts: 4, Sleep: s.sleep},
		Now:          func() time.Time { return fixedNow },
		CampaignID:   "camp-1",
		SyncID:       "sync-1",
	}
}

func contacts(n int, prefix string) []provider.Contact {
	cs := make([]provider.Contact, n)
	for i := range cs {
		cs[i] = provider.Contact{Email: fmt.Sprintf("%s%05d@example.com", prefix, i), Fields: map[string]string{"FNAME": fmt.Sprintf("N%d", i)}}
	}
	return cs
}

func emailsOf(cs []provider.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Email
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func callSizes(calls []providertestCall, op string) []int {
	var out []int
	for _, c := range calls {
		if c.Op == op {
			out = append(out, len(c.Emails))
		}
	}
	return out
}

func failedEmails(r provider.Result) []string {
	var out []string
	for _, f := range r.Failed {
		out = append(out, f.Email)
	}
	slices.Sort(out)
	return out
}

func newDest(t *testing.T, cfg provider.Config, opts provider.Options) provider.Destination {
	t.Helper()
	d, err := provider.New(cfg, opts)
	require.NoError(t, err)
	return d
}

func repeatJSON(item string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item
	}
	return strings.Join(parts, ",")
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
