package provider

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds how a call retries transient failures. The zero value means the defaults.
type RetryPolicy struct {
	MaxAttempts int           // attempts per request, first included; default 6
	BaseDelay   time.Duration // backoff base; default 500 ms
	MaxDelay    time.Duration // backoff cap; default 30 s
	// MaxWait is the longest Retry-After / X-RateLimit-Reset wait honoured in-process; a longer
	// one ends the call with an *APIError carrying RetryAfter, so the job can be rescheduled.
	// Default 2 min.
	MaxWait time.Duration
	// Sleep waits d or until ctx ends (returning ctx.Err()); tests inject a fake. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a value in [0,1); default math/rand/v2.
	Jitter func() float64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 6
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 2 * time.Minute
	}
	if p.Sleep == nil {
		p.Sleep = sleepContext
	}
	if p.Jitter == nil {
		p.Jitter = rand.Float64
	}
	return p
}

// backoff is the full-jitter wait before retry number n (n ≥ 1): uniform in [0, min(max, base·2^(n-1))].
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.BaseDelay
	for i := 1; i < n && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	return time.Duration(p.Jitter() * float64(ceiling))
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// serverWait is the wait a 429/503 asks for: Retry-After (delta seconds or an HTTP date), else
// X-RateLimit-Reset (epoch seconds, SendGrid), else 0 when neither is present or parseable.
func serverWait(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if epoch, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Unix(epoch, 0).Sub(now), 0)
		}
	}
	return 0
}
