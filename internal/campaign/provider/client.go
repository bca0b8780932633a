package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// maxResponseBody bounds what is read of any provider answer.
const maxResponseBody = 32 << 20

// caller performs one provider's HTTP requests: account-wide concurrency limit, retries with
// backoff, rate-limit waits, error decoding.
type caller struct {
	provider string
	hc       *http.Client
	sem      chan struct{} // one token per in-flight request to this account
	retry    RetryPolicy
	now      func() time.Time
	timeout  time.Duration
	auth     func(*http.Request)
	// allowPrivate: URLs found in answers (SendGrid's errors file) may be private too.
	allowPrivate bool
}

func newCaller(provider, account string, defaultConns int, opts Options, auth func(*http.Request)) *caller {
	conns := opts.MaxConns
	if conns <= 0 {
		conns = defaultConns
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	timeout := opts.RequestTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	return &caller{
		provider: provider,
		hc:       httpClientFor(opts),
		sem:      accountSemaphore(provider+"\x00"+account, conns),
		retry:    opts.Retry.withDefaults(),
		now:      now,
		timeout:  timeout,
		auth:     auth,

		allowPrivate: opts.AllowPrivate,
	}
}

var accountSems sync.Map // "<provider>\x00<sha256 of account>\x00<size>" → chan struct{}

// accountSemaphore is shared by every Destination of one account in this process, so two
// campaigns syncing to one Mailchimp account together stay within its connection limit.
func accountSemaphore(account string, size int) chan struct{} {
	sum := sha256.Sum256([]byte(account))
	key := fmt.Sprintf("%s\x00%d", hex.EncodeToString(sum[:]), size)
	v, _ := accountSems.LoadOrStore(key, make(chan struct{}, size))
	return v.(chan struct{})
}

// request is one logical call. body is rebuilt for every attempt (a webhook signs each attempt
// with a fresh timestamp); nil means no body.
type request struct {
	op     string
	method string
	url    string
	body   func() ([]byte, http.Header, error)
	// accept lists non-2xx statuses that are a final answer, not an error (e.g. 404 on delete).
	accept []int
}

func jsonBody(v any) func() ([]byte, http.Header, error) {
	b, err := json.Marshal(v)
	return func() ([]byte, http.Header, error) {
		return b, http.Header{"Content-Type": {"application/json"}}, err
	}
}

// do sends r, retrying network errors, 429 and 5xx up to the policy's attempts; any other 4xx
// ends it at once. It returns the final status and body when the answer was 2xx or accepted.
func (c *caller) do(ctx context.Context, r request) (int, []byte, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		status, hdr, body, err := c.once(ctx, r)
		if err != nil {
			var be *BlockedAddressError
			if ctx.Err() != nil {
				return 0, nil, fmt.Errorf("%s %s: %w", c.provider, r.op, ctx.Err())
			}
			if errors.As(err, &be) {
				return 0, nil, fmt.Errorf("%s %s: %w", c.provider, r.op, be)
			}
			var ce *ConfigError
			if errors.As(err, &ce) {
				return 0, nil, err
			}
			lastErr = err
		} else if status >= 200 && status < 300 || accepted(status, r.accept) {
			return status, body, nil
		} else {
			apiErr := c.apiError(r.op, status, body)
			if status != http.StatusTooManyRequests && status < 500 {
				return status, body, apiErr
			}
			lastErr = apiErr
			if wait := serverWait(hdr, c.now()); wait > 0 {
				apiErr.RetryAfter = wait
				if wait > c.retry.MaxWait {
					return status, body, apiErr
				}
				if attempt < c.retry.MaxAttempts {
					if err := c.retry.Sleep(ctx, wait); err != nil {
						return 0, nil, fmt.Errorf("%s %s: %w", c.provider, r.op, err)
					}
					continue
				}
			}
		}
		if attempt >= c.retry.MaxAttempts {
			return 0, nil, fmt.Errorf("after %d attempts: %w", attempt, lastErr)
		}
		if err := c.retry.Sleep(ctx, c.retry.backoff(attempt)); err != nil {
			return 0, nil, fmt.Errorf("%s %s: %w", c.provider, r.op, err)
		}
	}
}

func accepted(status int, list []int) bool {
	for _, s := range list {
		if s == status {
			return true
		}
	}
	return false
}

// once is one attempt, holding one account connection token while it runs.
func (c *caller) once(ctx context.Context, r request) (int, http.Header, []byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, nil, ctx.Err()
	}
	defer func() { <-c.sem }()

	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	var hdr http.Header
	if r.body != nil {
		b, h, err := r.body()
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%s %s: encoding request: %w", c.provider, r.op, err)
		}
		rd, hdr = bytes.NewReader(b), h
	}
	req, err := http.NewRequestWithContext(actx, r.method, r.url, rd)
	if err != nil {
		return 0, nil, nil, &ConfigError{Field: "url", Reason: "cannot form a request: " + redact(err.Error())}
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "cairn-campaign-sync")
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// url.Error repeats the URL (which may hold ids or a token): keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("%s %s: %w: %w", c.provider, r.op, errTransport, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: reading answer: %w: %w", c.provider, r.op, errTransport, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// apiError decodes Mailchimp's problem document ({title, detail}) or SendGrid's
// ({errors: [{field, message}]}); anything else keeps only the status.
func (c *caller) apiError(op string, status int, body []byte) *APIError {
	e := &APIError{Provider: c.provider, Op: op, Status: status}
	var doc struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil {
		e.Title = redact(doc.Title)
		e.Detail = redact(doc.Detail)
		if e.Detail == "" && len(doc.Errors) > 0 {
			d := doc.Errors[0].Message
			if doc.Errors[0].Field != "" {
				d = doc.Errors[0].Field + ": " + d
			}
			e.Detail = redact(d)
		}
	}
	return e
}

// parallel runs fn(0..n-1) with at most workers running at once. After the first error no new
// index starts (running ones finish, so their confirmations are kept); it returns that error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if workers < 1 {
		workers = 1
	}
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next >= n || ctx.Err() != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i, ok := take()
				if !ok {
					return
				}
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil && next < n {
		return ctx.Err()
	}
	return firstErr
}

// collector gathers a Result from concurrent batches.
type collector struct {
	mu  sync.Mutex
	res Result
}

func (c *collector) confirm(emails ...string) {
	c.mu.Lock()
	c.res.Confirmed = append(c.res.Confirmed, emails...)
	c.mu.Unlock()
}

func (c *collector) fail(errs ...ContactError) {
	c.mu.Lock()
	c.res.Failed = append(c.res.Failed, errs...)
	c.mu.Unlock()
}

func (c *collector) result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.res
}

// uniqueEmails drops blanks and repeats, keeping first occurrences in order.
func uniqueEmails(emails []string) []string {
	seen := make(map[string]struct{}, len(emails))
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		if e == "" {
			continue
		}
		if _, ok := seen[e]; ok {
			continue
		}
		seen[e] = struct{}{}
		out = append(out, e)
	}
	return out
}

func uniqueContacts(cs []Contact) []Contact {
	seen := make(map[string]struct{}, len(cs))
	out := make([]Contact, 0, len(cs))
	for _, c := range cs {
		if c.Email == "" {
			continue
		}
		if _, ok := seen[c.Email]; ok {
			continue
		}
		seen[c.Email] = struct{}{}
		out = append(out, c)
	}
	return out
}

func chunks[T any](s []T, size int) [][]T {
	var out [][]T
	for len(s) > 0 {
		n := min(size, len(s))
		out = append(out, s[:n:n])
		s = s[n:]
	}
	return out
}
