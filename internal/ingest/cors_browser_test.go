package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCORSInChromium has headless Chromium, when installed, send what analytics-next sends for
// a retried event (Content-Type: application/json and X-Retry-Count, so a preflight first)
// from a page of another origin, and checks that the browser let it through and read the
// answer. TestCORSPreflight checks the same rules without a browser.
func TestCORSInChromium(t *testing.T) {
	t.Parallel()
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Fatal("no Chromium installed: run make chromium (make test and .ci/run install it)")
	}
	b := setup(t, nil)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<html><body><script>
fetch(%q, {method: "POST", headers: {"Content-Type": "application/json", "X-Retry-Count": "1"},
  body: JSON.stringify({writeKey: %q, anonymousId: "a-browser", event: "Retried", messageId: "browser-1"})})
  .then(r => r.text()).then(t => document.body.setAttribute("data-result", "ok " + t))
  .catch(e => document.body.setAttribute("data-result", "blocked " + e));
</script></body></html>`, b.srv.URL+"/v1/t", b.key)
	}))
	t.Cleanup(page.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=20000", "--dump-dom", page.URL).Output()
	require.NoError(t, err)
	m := regexp.MustCompile(`data-result="([^"]*)"`).FindSubmatch(out)
	require.NotNil(t, m, "the page recorded no result: %s", out)
	require.Equal(t, "ok {&quot;success&quot;:true}", string(m[1]))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions WHERE message_id = 'browser-1'`))
}
