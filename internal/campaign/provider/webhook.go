package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// Webhook limits.
const (
	WebhookDefaultBatch = 500
	WebhookMaxBatch     = 10000
	webhookConns        = 1 // batches are delivered in order
)

// WebhookBatch is the JSON body POSTed to a webhook destination. Every list is present (possibly
// empty) except Erased. A receiver applies added/updated as upserts, removed as "out of this
// campaign's audience", erased as "delete everything held on this person".
type WebhookBatch struct {
	Campaign string           `json:"campaign"`
	Sync     string           `json:"sync"`
	Batch    string           `json:"batch"` // same as the X-Cairn-Delivery header
	Test     bool             `json:"test,omitempty"`
	Added    []WebhookContact `json:"added"`
	Updated  []WebhookContact `json:"updated"`
	Removed  []WebhookContact `json:"removed"`
	Erased   []WebhookContact `json:"erased,omitempty"`
}

// WebhookContact is one person in a WebhookBatch.
type WebhookContact struct {
	Email  string            `json:"email"`
	Fields map[string]string `json:"fields,omitempty"`
}

// webhook POSTs signed JSON batches; a 2xx answer confirms the whole batch.
type webhook struct {
	c        *caller
	url      string
	secret   string
	batch    int
	conns    int
	campaign string
	sync     string
}

func newWebhook(cfg Config, opts Options) (*webhook, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, &ConfigError{Field: "url", Reason: "is required for webhook"}
	}
	u, err := checkURL("url", cfg.URL, opts.AllowPrivate)
	if err != nil {
		return nil, err
	}
	if cfg.Secret == "" {
		return nil, &ConfigError{Field: "secret", Reason: "is required for webhook (it signs every batch)"}
	}
	batch := cfg.BatchSize
	if batch == 0 {
		batch = WebhookDefaultBatch
	}
	if batch < 0 || batch > WebhookMaxBatch {
		return nil, &ConfigError{Field: "batchSize", Reason: "must be between 1 and 10000"}
	}
	conns := opts.MaxConns
	if conns <= 0 {
		conns = webhookConns
	}
	return &webhook{
		c:        newCaller(KindWebhook, u.String(), webhookConns, opts, nil),
		url:      u.String(),
		secret:   cfg.Secret,
		batch:    batch,
		conns:    conns,
		campaign: opts.CampaignID,
		sync:     opts.SyncID,
	}, nil
}

// send delivers one batch, signing each attempt with the time of that attempt.
func (w *webhook) send(ctx context.Context, op string, b WebhookBatch) error {
	b.Campaign, b.Sync = w.campaign, w.sync
	for _, l := range []*[]WebhookContact{&b.Added, &b.Updated, &b.Removed} {
		if *l == nil {
			*l = []WebhookContact{}
		}
	}
	b.Batch = ""
	content, err := json.Marshal(b)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	b.Batch = hex.EncodeToString(sum[:16])
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, _, err = w.c.do(ctx, request{op: op, method: http.MethodPost, url: w.url,
		body: func() ([]byte, http.Header, error) {
			return body, http.Header{
				"Content-Type":  {"application/json"},
				SignatureHeader: {SignWebhook(w.secret, w.c.now(), body)},
				DeliveryHeader:  {b.Batch},
			}, nil
		}})
	return err
}

func (w *webhook) Test(ctx context.Context) error {
	return w.send(ctx, "test delivery", WebhookBatch{Test: true})
}

// Upsert sends contacts in batches of BatchSize, reporting Existing ones as "updated".
func (w *webhook) Upsert(ctx context.Context, cs []Contact) (Result, error) {
	batches := chunks(uniqueContacts(cs), w.batch)
	var col collector
	err := parallel(ctx, len(batches), w.conns, func(ctx context.Context, i int) error {
		var b WebhookBatch
		emails := make([]string, len(batches[i]))
		for j, c := range batches[i] {
			emails[j] = c.Email
			wc := WebhookContact{Email: c.Email, Fields: c.Fields}
			if c.Existing {
				b.Updated = append(b.Updated, wc)
			} else {
				b.Added = append(b.Added, wc)
			}
		}
		if err := w.send(ctx, "deliver upserts", b); err != nil {
			return err
		}
		col.confirm(emails...)
		return nil
	})
	return col.result(), err
}

func (w *webhook) Remove(ctx context.Context, emails []string) (Result, error) {
	return w.emails(ctx, "deliver removals", emails, func(b *WebhookBatch, c []WebhookContact) { b.Removed = c })
}

// Leave is Remove: the receiver decides what leaving means.
func (w *webhook) Leave(ctx context.Context, emails []string) (Result, error) {
	return w.Remove(ctx, emails)
}

func (w *webhook) Erase(ctx context.Context, emails []string) (Result, error) {
	return w.emails(ctx, "deliver erasures", emails, func(b *WebhookBatch, c []WebhookContact) { b.Erased = c })
}

func (w *webhook) emails(ctx context.Context, op string, emails []string, set func(*WebhookBatch, []WebhookContact)) (Result, error) {
	batches := chunks(uniqueEmails(emails), w.batch)
	var col collector
	err := parallel(ctx, len(batches), w.conns, func(ctx context.Context, i int) error {
		cs := make([]WebhookContact, len(batches[i]))
		for j, e := range batches[i] {
			cs[j] = WebhookContact{Email: e}
		}
		var b WebhookBatch
		set(&b, cs)
		if err := w.send(ctx, op, b); err != nil {
			return err
		}
		col.confirm(batches[i]...)
		return nil
	})
	return col.result(), err
}
