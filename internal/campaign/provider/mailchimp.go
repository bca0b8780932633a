package provider

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Mailchimp limits (Marketing API v3).
const (
	MailchimpMaxBatch = 500 // members per POST /lists/{id}; members_to_add / _remove per segment call
	MailchimpMaxConns = 10  // simultaneous connections per account
)

var mailchimpDC = regexp.MustCompile(`^[a-z]{2,}[0-9]+$`)

// mailchimp keeps the campaign's audience as a static segment of one Mailchimp audience (list):
// Upsert = batch subscribe (update_existing, status_if_new subscribed) then add to the segment;
// Remove = remove from the segment then archive; Erase = delete-permanent.
type mailchimp struct {
	c        *caller
	api      string // e.g. https://us6.api.mailchimp.com/3.0
	list     string
	audience string
	batch    int
	conns    int

	segMu sync.Mutex
	segID int64 // 0 until found or created
}

func newMailchimp(cfg Config, opts Options) (*mailchimp, error) {
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" {
		return nil, &ConfigError{Field: "apiKey", Reason: "is required for mailchimp"}
	}
	if strings.TrimSpace(cfg.ListID) == "" {
		return nil, &ConfigError{Field: "listId", Reason: "is required for mailchimp (the audience id)"}
	}
	if strings.TrimSpace(cfg.AudienceName) == "" {
		return nil, &ConfigError{Field: "audienceName", Reason: "is required for mailchimp (the static segment that holds the campaign's audience)"}
	}
	batch, err := batchSize(cfg.BatchSize, MailchimpMaxBatch)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		i := strings.LastIndexByte(key, '-')
		dc := key[i+1:]
		if i < 0 || !mailchimpDC.MatchString(dc) {
			return nil, &ConfigError{Field: "apiKey", Reason: "does not end in a data centre such as -us6 (or set baseUrl)"}
		}
		base = "https://" + dc + ".api.mailchimp.com"
	}
	u, err := checkURL("baseUrl", base, opts.AllowPrivate)
	if err != nil {
		return nil, err
	}
	// Mailchimp refuses an 11th simultaneous connection, so more is never useful.
	conns := opts.MaxConns
	if conns <= 0 || conns > MailchimpMaxConns {
		conns = MailchimpMaxConns
	}
	opts.MaxConns = conns
	m := &mailchimp{
		api:      strings.TrimRight(u.String(), "/") + "/3.0",
		list:     strings.TrimSpace(cfg.ListID),
		audience: strings.TrimSpace(cfg.AudienceName),
		batch:    batch,
		conns:    conns,
	}
	m.c = newCaller(KindMailchimp, u.Host+"\x00"+key, MailchimpMaxConns, opts, func(r *http.Request) {
		r.SetBasicAuth("cairn", key)
	})
	return m, nil
}

func batchSize(configured, limit int) (int, error) {
	switch {
	case configured == 0:
		return limit, nil
	case configured < 0 || configured > limit:
		return 0, &ConfigError{Field: "batchSize", Reason: fmt.Sprintf("must be between 1 and %d", limit)}
	default:
		return configured, nil
	}
}

// SubscriberHash is Mailchimp's member id: the hex MD5 of the lower-cased email.
func SubscriberHash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

func (m *mailchimp) listURL(parts ...string) string {
	p := m.api + "/lists/" + url.PathEscape(m.list)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

func (m *mailchimp) Test(ctx context.Context) error {
	_, _, err := m.c.do(ctx, request{op: "read audience", method: http.MethodGet, url: m.listURL() + "?fields=id,name"})
	return err
}

type mcMember struct {
	EmailAddress string            `json:"email_address"`
	StatusIfNew  string            `json:"status_if_new"`
	MergeFields  map[string]string `json:"merge_fields,omitempty"`
}

type mcBatchAnswer struct {
	Errors []struct {
		EmailAddress string `json:"email_address"`
		Error        string `json:"error"`
		ErrorCode    string `json:"error_code"`
		Field        string `json:"field"`
		FieldMessage string `json:"field_message"`
	} `json:"errors"`
}

type mcSegmentAnswer struct {
	Errors []struct {
		EmailAddresses []string `json:"email_addresses"`
		Error          string   `json:"error"`
	} `json:"errors"`
}

// Upsert subscribes (if new) or updates each batch of ≤500, then adds the members Mailchimp
// accepted to the audience segment. A contact is confirmed once both calls accepted it.
func (m *mailchimp) Upsert(ctx context.Context, cs []Contact) (Result, error) {
	cs = uniqueContacts(cs)
	if len(cs) == 0 {
		return Result{}, nil
	}
	seg, err := m.segment(ctx)
	if err != nil {
		return Result{}, err
	}
	batches := chunks(cs, m.batch)
	var col collector
	err = parallel(ctx, len(batches), m.conns, func(ctx context.Context, i int) error {
		return m.upsertBatch(ctx, seg, batches[i], &col)
	})
	return col.result(), err
}

func (m *mailchimp) upsertBatch(ctx context.Context, seg int64, batch []Contact, col *collector) error {
	members := make([]mcMember, len(batch))
	for i, c := range batch {
		members[i] = mcMember{EmailAddress: c.Email, StatusIfNew: "subscribed", MergeFields: c.Fields}
	}
	_, body, err := m.c.do(ctx, request{
		op: "upsert members", method: http.MethodPost, url: m.listURL(),
		body: jsonBody(map[string]any{"members": members, "update_existing": true}),
	})
	if err != nil {
		return err
	}
	var ans mcBatchAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return fmt.Errorf("mailchimp upsert members: decoding answer: %w", err)
	}
	rejected := make(map[string]bool, len(ans.Errors))
	var failed []ContactError
	for _, e := range ans.Errors {
		email := strings.ToLower(strings.TrimSpace(e.EmailAddress))
		if rejected[email] {
			continue
		}
		rejected[email] = true
		msg := e.Error
		if e.FieldMessage != "" {
			msg += " (" + e.FieldMessage + ")"
		}
		failed = append(failed, ContactError{Email: email, Code: e.ErrorCode, Field: e.Field, Message: redact(msg)})
	}
	accepted := make([]string, 0, len(batch))
	for _, c := range batch {
		if !rejected[c.Email] {
			accepted = append(accepted, c.Email)
		}
	}
	// Only contacts the batch named are reported: an error for an email we did not send is ignored.
	failed = onlyFor(failed, batch)
	col.fail(failed...)
	if len(accepted) == 0 {
		return nil
	}
	segFailed, err := m.segmentChange(ctx, seg, "members_to_add", accepted)
	if err != nil {
		return err
	}
	col.fail(segFailed...)
	col.confirm(without(accepted, segFailed)...)
	return nil
}

// segmentChange adds or removes ≤500 emails to/from the static segment and returns the
// per-member errors Mailchimp reported.
func (m *mailchimp) segmentChange(ctx context.Context, seg int64, field string, emails []string) ([]ContactError, error) {
	op := "add to audience segment"
	if field == "members_to_remove" {
		op = "remove from audience segment"
	}
	_, body, err := m.c.do(ctx, request{
		op: op, method: http.MethodPost, url: m.listURL("segments", fmt.Sprint(seg)),
		body: jsonBody(map[string][]string{field: emails}),
	})
	if err != nil {
		return nil, err
	}
	var ans mcSegmentAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("mailchimp %s: decoding answer: %w", op, err)
	}
	var failed []ContactError
	seen := map[string]bool{}
	for _, e := range ans.Errors {
		for _, addr := range e.EmailAddresses {
			email := strings.ToLower(strings.TrimSpace(addr))
			if seen[email] {
				continue
			}
			seen[email] = true
			failed = append(failed, ContactError{Email: email, Code: "segment_member_error", Message: redact(e.Error)})
		}
	}
	return onlyForEmails(failed, emails), nil
}

// Remove takes the emails out of the audience segment, then archives each member (Mailchimp's
// answer to a consent withdrawal: kept for reporting, never mailed, re-addable later). A member
// Mailchimp does not know (404) counts as removed.
func (m *mailchimp) Remove(ctx context.Context, emails []string) (Result, error) {
	emails = uniqueEmails(emails)
	if len(emails) == 0 {
		return Result{}, nil
	}
	seg, err := m.segment(ctx)
	if err != nil {
		return Result{}, err
	}
	batches := chunks(emails, m.batch)
	// Per-member segment errors are not failures here: the archive below takes the member out
	// of every segment anyway, and "not in segment" is the goal.
	if err := parallel(ctx, len(batches), m.conns, func(ctx context.Context, i int) error {
		_, err := m.segmentChange(ctx, seg, "members_to_remove", batches[i])
		return err
	}); err != nil {
		return Result{}, err
	}
	return m.perMember(ctx, emails, "archive member", http.MethodDelete, nil)
}

// Leave removes the emails from the audience segment only. "Not in the segment" and "not a
// member" answers confirm: the goal holds.
func (m *mailchimp) Leave(ctx context.Context, emails []string) (Result, error) {
	emails = uniqueEmails(emails)
	if len(emails) == 0 {
		return Result{}, nil
	}
	seg, err := m.segment(ctx)
	if err != nil {
		return Result{}, err
	}
	batches := chunks(emails, m.batch)
	var col collector
	err = parallel(ctx, len(batches), m.conns, func(ctx context.Context, i int) error {
		if _, err := m.segmentChange(ctx, seg, "members_to_remove", batches[i]); err != nil {
			return err
		}
		col.confirm(batches[i]...)
		return nil
	})
	return col.result(), err
}

// Erase permanently deletes each member (Mailchimp forbids re-importing them afterwards).
func (m *mailchimp) Erase(ctx context.Context, emails []string) (Result, error) {
	emails = uniqueEmails(emails)
	return m.perMember(ctx, emails, "delete member permanently", http.MethodPost, []string{"actions", "delete-permanent"})
}

// perMember runs one call per email; 404 confirms (nothing held), another per-member 4xx is a
// ContactError, 401/403 and exhausted retries end the whole call.
func (m *mailchimp) perMember(ctx context.Context, emails []string, op, method string, suffix []string) (Result, error) {
	var col collector
	err := parallel(ctx, len(emails), m.conns, func(ctx context.Context, i int) error {
		email := emails[i]
		_, _, err := m.c.do(ctx, request{
			op: op, method: method, url: m.listURL(append([]string{"members", SubscriberHash(email)}, suffix...)...),
			accept: []int{http.StatusNotFound},
		})
		var ae *APIError
		switch {
		case err == nil:
			col.confirm(email)
			return nil
		case errors.As(err, &ae) && !ae.Temporary() && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusForbidden:
			col.fail(ContactError{Email: email, Code: fmt.Sprintf("http_%d", ae.Status), Message: strings.TrimSpace(ae.Title + " " + ae.Detail)})
			return nil
		default:
			return err
		}
	})
	return col.result(), err
}

// segment returns the id of the static segment named m.audience, creating it when missing.
func (m *mailchimp) segment(ctx context.Context) (int64, error) {
	m.segMu.Lock()
	defer m.segMu.Unlock()
	if m.segID != 0 {
		return m.segID, nil
	}
	const page = 1000
	for offset := 0; ; offset += page {
		_, body, err := m.c.do(ctx, request{
			op: "list segments", method: http.MethodGet,
			url: m.listURL("segments") + fmt.Sprintf("?type=static&count=%d&offset=%d&fields=segments.id,segments.name,total_items", page, offset),
		})
		if err != nil {
			return 0, err
		}
		var ans struct {
			Segments []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"segments"`
			TotalItems int `json:"total_items"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			return 0, fmt.Errorf("mailchimp list segments: decoding answer: %w", err)
		}
		for _, s := range ans.Segments {
			if s.Name == m.audience {
				m.segID = s.ID
				return s.ID, nil
			}
		}
		if len(ans.Segments) < page || offset+page >= ans.TotalItems {
			break
		}
	}
	_, body, err := m.c.do(ctx, request{
		op: "create segment", method: http.MethodPost, url: m.listURL("segments"),
		body: jsonBody(map[string]any{"name": m.audience, "static_segment": []string{}}),
	})
	if err != nil {
		return 0, err
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ID == 0 {
		return 0, fmt.Errorf("mailchimp create segment: answer has no segment id")
	}
	m.segID = created.ID
	return created.ID, nil
}

func onlyFor(errs []ContactError, batch []Contact) []ContactError {
	emails := make([]string, len(batch))
	for i, c := range batch {
		emails[i] = c.Email
	}
	return onlyForEmails(errs, emails)
}

func onlyForEmails(errs []ContactError, emails []string) []ContactError {
	in := make(map[string]bool, len(emails))
	for _, e := range emails {
		in[e] = true
	}
	out := errs[:0]
	for _, e := range errs {
		if in[e.Email] {
			out = append(out, e)
		}
	}
	return out
}

func without(emails []string, errs []ContactError) []string {
	if len(errs) == 0 {
		return emails
	}
	drop := make(map[string]bool, len(errs))
	for _, e := range errs {
		drop[e.Email] = true
	}
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		if !drop[e] {
			out = append(out, e)
		}
	}
	return out
}
