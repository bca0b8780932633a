package provider

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServerWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", http.Header{}, 0},
		{"retry-after seconds", http.Header{"Retry-After": {"12"}}, 12 * time.Second},
		{"retry-after date", http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, time.Minute},
		{"retry-after date in the past", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"x-ratelimit-reset epoch", http.Header{"X-Ratelimit-Reset": {"1796385630"}}, 30 * time.Second},
		{"retry-after wins", http.Header{"Retry-After": {"2"}, "X-Ratelimit-Reset": {"1796385630"}}, 2 * time.Second},
		{"garbage", http.Header{"Retry-After": {"soon"}, "X-Ratelimit-Reset": {"later"}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, serverWait(tc.header, now))
		})
	}
}

func TestBackoffFullJitter(t *testing.T) {
	t.Parallel()
	top := RetryPolicy{BaseDelay: time.Second, MaxDelay: 10 * time.Second, Jitter: func() float64 { return 0.999999 }}.withDefaults()
	bottom := top
	bottom.Jitter = func() float64 { return 0 }
	cases := []struct {
		attempt int
		ceiling time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {30, 10 * time.Second}}
	for _, tc := range cases {
		require.InDelta(t, float64(tc.ceiling), float64(top.backoff(tc.attempt)), float64(time.Millisecond), "attempt %d", tc.attempt)
		require.Zero(t, bottom.backoff(tc.attempt))
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	require.Equal(t, "<email> is already a list member.", redact("Jane.Doe+x@example.co.uk is already a list member."))
	require.Equal(t, "no address here", redact("no address here"))
}
