package providertest

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
)

// WebhookOpts configures a fake webhook receiver; nil means defaults.
type WebhookOpts struct {
	Secret    string        // default "whsec-fake"
	Tolerance time.Duration // signature age accepted; default 5 min
	Now       func() time.Time
	Latency   time.Duration
}

// Webhook is a receiver that verifies X-Cairn-Signature (401 otherwise), applies each batch
// once per X-Cairn-Delivery id, and keeps the resulting audience.
type Webhook struct {
	*httptest.Server
	control
	Secret string

	state      sync.Mutex
	tolerance  time.Duration
	now        func() time.Time
	members    map[string]map[string]string
	erased     map[string]bool
	deliveries map[string]bool
	batches    []provider.WebhookBatch
	badSigs    int
}

// NewWebhook starts a fake receiver, closed when the test ends.
func NewWebhook(t testing.TB, opts *WebhookOpts) *Webhook {
	if opts == nil {
		opts = &WebhookOpts{}
	}
	f := &Webhook{
		Secret:     cmp(opts.Secret, "whsec-fake"),
		tolerance:  opts.Tolerance,
		now:        opts.Now,
		members:    map[string]map[string]string{},
		erased:     map[string]bool{},
		deliveries: map[string]bool{},
	}
	if f.tolerance <= 0 {
		f.tolerance = 5 * time.Minute
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.latency = opts.Latency
	f.Server = httptest.NewServer(f.wrap(func(w http.ResponseWriter) {
		writeJSON(w, 429, map[string]string{"error": "too many requests"})
	}, http.HandlerFunc(f.receive)))
	t.Cleanup(f.Server.Close)
	return f
}

func (f *Webhook) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost {
		writeJSON(w, 400, map[string]string{"error": "POST a JSON body"})
		return
	}
	if err := provider.VerifyWebhook(f.Secret, r.Header.Get(provider.SignatureHeader), body, f.now(), f.tolerance); err != nil {
		f.state.Lock()
		f.badSigs++
		f.state.Unlock()
		writeJSON(w, 401, map[string]string{"error": err.Error()})
		return
	}
	var b provider.WebhookBatch
	if err := json.Unmarshal(body, &b); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid JSON"})
		return
	}
	delivery := r.Header.Get(provider.DeliveryHeader)
	f.state.Lock()
	dup := delivery != "" && f.deliveries[delivery]
	if !dup {
		f.deliveries[delivery] = true
		f.batches = append(f.batches, b)
		for _, c := range append(slices.Clone(b.Added), b.Updated...) {
			f.members[c.Email] = maps.Clone(c.Fields)
		}
		for _, c := range b.Removed {
			delete(f.members, c.Email)
		}
		for _, c := range b.Erased {
			delete(f.members, c.Email)
			f.erased[c.Email] = true
		}
	}
	f.state.Unlock()
	if !dup {
		var emails []string
		for _, l := range [][]provider.WebhookContact{b.Added, b.Updated, b.Removed, b.Erased} {
			for _, c := range l {
				emails = append(emails, c.Email)
			}
		}
		f.record("batch", emails)
	}
	writeJSON(w, 200, map[string]bool{"ok": true})
}

// Members returns the audience the receiver holds, sorted.
func (f *Webhook) Members() []string {
	f.state.Lock()
	defer f.state.Unlock()
	return slices.Sorted(maps.Keys(f.members))
}

// Fields returns a member's fields.
func (f *Webhook) Fields(email string) (map[string]string, bool) {
	f.state.Lock()
	defer f.state.Unlock()
	m, ok := f.members[email]
	return maps.Clone(m), ok
}

// Erased returns the emails erased, sorted.
func (f *Webhook) Erased() []string {
	f.state.Lock()
	defer f.state.Unlock()
	return slices.Sorted(maps.Keys(f.erased))
}

// Batches returns the distinct batches applied, in order.
func (f *Webhook) Batches() []provider.WebhookBatch {
	f.state.Lock()
	defer f.state.Unlock()
	return slices.Clone(f.batches)
}

// BadSignatures counts requests refused for their signature.
func (f *Webhook) BadSignatures() int {
	f.state.Lock()
	defer f.state.Unlock()
	return f.badSigs
}
