package console_test

// The end-to-end harness: a real `cairn serve` (built once from cmd/cairn) on its own test
// database, and tabs of one headless Debian Chromium driven with chromedp. Every tab records
// JavaScript console errors, the browser's error log (CSP violations among them), uncaught
// exceptions, failed requests (HTTP >= 400 or a network failure) and any request to a host
// other than the server (which it blocks); a test with any of them fails, and a failing test
// saves a screenshot.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// chromiumPath is Debian's chromium (make test and .ci/run install it when missing).
const chromiumPath = "/usr/bin/chromium"

var (
	cairnBin string // built by TestMain

	browserOnce   sync.Once
	browserCtx    context.Context
	browserCancel context.CancelFunc
	browserErr    error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cairn-console-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cairnBin = filepath.Join(dir, "cairn")
	build := exec.Command("go", "build", "-o", cairnBin, "github.com/cairn-cdp/cairn/cmd/cairn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building cairn for the browser tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	if browserCancel != nil {
		browserCancel()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// browser returns the shared Chromium (started on first use, with a fresh profile).
func browser(t *testing.T) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		if _, err := os.Stat(chromiumPath); err != nil {
			browserErr = fmt.Errorf("%s not found: install Debian's chromium (apt-get install -y chromium; make test does it): %w", chromiumPath, err)
			return
		}
		profile, err := os.MkdirTemp("", "cairn-chromium-profile")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.UserDataDir(profile),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.WindowSize(1280, 800),
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		if err := chromedp.Do(ctx); err != nil { // starts the browser
			browserErr = fmt.Errorf("starting chromium: %w", err)
		}
		browserCtx = ctx
		browserCancel = func() { cancel(); cancelAlloc(); os.RemoveAll(profile) }
	})
	require.NoError(t, browserErr)
	return browserCtx
}

// server is a running `cairn serve` on its own database.
type server struct {
	url    string
	host   string
	db     *sql.DB
	client *ent.Client
	admin  string // secret of a read+write key
	ingest string // secret of an ingest key
}

func startServer(t *testing.T) *server {
	t.Helper()
	dbURL := testdb.URL(t)
	db, err := sql.Open("postgres", dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	var logs bytes.Buffer
	cmd := exec.Command(cairnBin, "serve", "--workers", "4")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "CAIRN_ADDR="+addr, "CAIRN_SECRET_KEY="+hex.EncodeToString(secret),
		"CAIRN_DATA_DIR="+t.TempDir(), "CAIRN_LOG_LEVEL=warn",
		// Campaign tests sync to a webhook receiver on loopback.
		"CAIRN_DESTINATIONS_ALLOW_PRIVATE=true")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(25 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("cairn serve output:\n%s", logs.String())
		}
	})

	s := &server{url: "http://" + addr, host: addr, db: db, client: txn.NewClient(db)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "cairn serve did not become ready: %v\n%s", err, logs.String())
		time.Sleep(100 * time.Millisecond)
	}
	s.admin = s.newKey(t, "e2e console", auth.ScopeRead, auth.ScopeWrite)
	s.ingest = s.newKey(t, "e2e ingest", auth.ScopeIngest)
	return s
}

// newKey creates an API key with the given scopes and returns its secret.
func (s *server) newKey(t *testing.T, name string, scopes ...auth.Scope) string {
	t.Helper()
	keys := auth.NewKeys(s.db, slog.New(slog.DiscardHandler))
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Name: "e2e"})
	k, err := keys.Create(ctx, name, scopes)
	require.NoError(t, err)
	return k.Secret
}

// gql runs a GraphQL operation with the read+write key and returns its data.
func (s *server) gql(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.admin)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Empty(t, out.Errors, "query: %s", query)
	return out.Data
}

// tab is one browser tab watching for errors.
type tab struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func (b *tab) fail(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
}

// newTab opens a tab on s. Requests to any other host are blocked and recorded; at the end of
// the test, recorded errors fail it, and a failed test leaves a screenshot.
func newTab(t *testing.T, s *server) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t))
	b := &tab{ctx: ctx}
	// The listener runs in the tab's event loop: it must not send commands, so paused requests
	// are answered from a goroutine.
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.fail("console.%s: %s", ev.Type, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.fail("uncaught exception: %s", msg)
		case *cdplog.EventEntryAdded: // the browser's own errors: CSP violations, failed loads
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.fail("browser log: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			if !ev.Canceled {
				b.fail("request failed: %s (%s)", ev.RequestID, ev.ErrorText)
			}
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				b.fail("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
			}
		case *fetch.EventRequestPaused:
			id, raw := ev.RequestID, ev.Request.URL
			go func() {
				u, err := url.Parse(raw)
				if err != nil || u.Host != s.host {
					b.fail("request to another host blocked: %s", raw)
					_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonBlockedByClient})
					return
				}
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
			}()
		}
	})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, runtime.Enable, cdp.Empty{})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		b.mu.Lock()
		errs := append([]string(nil), b.errs...)
		b.mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser: %s", e)
		}
		if t.Failed() {
			sctx, cancelShot := context.WithTimeout(ctx, 10*time.Second)
			png, err := chromedp.Run(sctx, chromedp.FullScreenshot(80))
			cancelShot()
			if err == nil {
				dir := os.Getenv("CAIRN_E2E_SCREENSHOTS")
				if dir == "" {
					dir = os.TempDir()
				}
				p := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".jpg")
				if err := os.WriteFile(p, png, 0o644); err == nil {
					t.Logf("screenshot: %s", p)
				}
			}
		}
		cancel()
	})
	return b
}

// do runs steps on the tab with a timeout.
func (b *tab) do(t *testing.T, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// eval evaluates a JavaScript expression on the tab.
func eval[T any](t *testing.T, b *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// signIn opens the console and signs in with the server's read+write key.
func (b *tab) signIn(t *testing.T, s *server) {
	t.Helper()
	b.signInWith(t, s, s.admin)
}

// signInWith opens the console and signs in with the key.
func (b *tab) signInWith(t *testing.T, s *server, key string) {
	t.Helper()
	b.do(t, 20*time.Second,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#apikey")),
		chromedp.SendKeys(chromedp.CSS("#apikey"), key),
		chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("header.top nav")),
	)
}

// setValue sets a form control's value as a user would and fires its input and change events.
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) throw new Error('no element ' + %q);
		e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, sel, sel, value)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](js)(ctx, t)
		return err
	})
}

// waitText waits until the element's text is want (polling), reporting the last text seen.
func (b *tab) waitText(t *testing.T, sel, want string, timeout time.Duration) {
	t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel)))
		if err == nil {
			last = v
		}
		cancel()
		if err == nil && strings.TrimSpace(last) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: want text %q, last saw %q", sel, want, last)
}
