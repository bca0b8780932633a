package provider

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SendGrid limits (Marketing Contacts API).
const (
	SendGridMaxBatch  = 30000   // contacts per PUT /v3/marketing/contacts
	SendGridMaxBytes  = 6 << 20 // request body per PUT /v3/marketing/contacts
	SendGridMaxSearch = 100     // emails per POST /v3/marketing/contacts/search/emails
	sendGridConns     = 4
)

// sendgrid keeps the campaign's audience as one SendGrid list. Upsert is asynchronous on
// SendGrid's side: a contact is confirmed only when its import job has finished without an
// error for it.
type sendgrid struct {
	c           *caller
	api         string // e.g. https://api.sendgrid.com/v3
	host        string
	list        string
	batch       int
	conns       int
	fieldMap    map[string]string
	poll        time.Duration
	pollTimeout time.Duration
}

func newSendGrid(cfg Config, opts Options) (*sendgrid, error) {
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" {
		return nil, &ConfigError{Field: "apiKey", Reason: "is required for sendgrid"}
	}
	if strings.TrimSpace(cfg.ListID) == "" {
		return nil, &ConfigError{Field: "listId", Reason: "is required for sendgrid (the marketing list id)"}
	}
	batch, err := batchSize(cfg.BatchSize, SendGridMaxBatch)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		base = "https://api.sendgrid.com"
	}
	u, err := checkURL("baseUrl", base, opts.AllowPrivate)
	if err != nil {
		return nil, err
	}
	conns := opts.MaxConns
	if conns <= 0 {
		conns = sendGridConns
	}
	s := &sendgrid{
		api:         strings.TrimRight(u.String(), "/") + "/v3",
		host:        u.Host,
		list:        strings.TrimSpace(cfg.ListID),
		batch:       batch,
		conns:       conns,
		fieldMap:    cfg.FieldMap,
		poll:        opts.PollInterval,
		pollTimeout: opts.PollTimeout,
	}
	if s.poll <= 0 {
		s.poll = time.Second
	}
	if s.pollTimeout <= 0 {
		s.pollTimeout = 15 * time.Minute
	}
	s.c = newCaller(KindSendGrid, u.Host+"\x00"+key, sendGridConns, opts, func(r *http.Request) {
		// The errors file may live on another host: send the key only to the API's own host.
		if r.URL.Host == u.Host {
			r.Header.Set("Authorization", "Bearer "+key)
		}
	})
	return s, nil
}

func (s *sendgrid) Test(ctx context.Context) error {
	_, _, err := s.c.do(ctx, request{op: "read list", method: http.MethodGet,
		url: s.api + "/marketing/lists/" + url.PathEscape(s.list) + "?contact_sample=false"})
	return err
}

// sgReserved are SendGrid's reserved contact fields, sent at the top level of a contact.
var sgReserved = map[string]bool{
	"first_name": true, "last_name": true, "address_line_1": true,
	"address_line_2": true, "city": true, "state_province_region": true, "postal_code": true,
	"country": true, "phone_number": true, "whatsapp": true, "line": true, "facebook": true,
	"unique_name": true,
}

// contactJSON is the wire form of one contact, encoded once so its size can be counted.
func (s *sendgrid) contactJSON(c Contact) (json.RawMessage, error) {
	obj := map[string]any{"email": c.Email}
	custom := map[string]string{}
	for k, v := range c.Fields {
		name, ok := s.fieldMap[k]
		if !ok {
			switch k {
			case "FNAME":
				name = "first_name"
			case "LNAME":
				name = "last_name"
			default:
				name = k
			}
		}
		if sgReserved[name] {
			obj[name] = v
		} else {
			custom[name] = v
		}
	}
	if len(custom) > 0 {
		obj["custom_fields"] = custom
	}
	return json.Marshal(obj)
}

type sgBatch struct {
	emails []string
	raw    []json.RawMessage
}

// Upsert sends batches of ≤30,000 contacts and ≤6 MB, each to the configured list, and waits
// for each import job.
func (s *sendgrid) Upsert(ctx context.Context, cs []Contact) (Result, error) {
	cs = uniqueContacts(cs)
	const envelope = 1 << 10 // {"list_ids":[…],"contacts":[]} and commas
	var batches []*sgBatch
	var col collector
	cur, size := &sgBatch{}, envelope
	for _, c := range cs {
		raw, err := s.contactJSON(c)
		if err != nil {
			return Result{}, fmt.Errorf("sendgrid upsert contacts: encoding a contact: %w", err)
		}
		if len(raw)+envelope > SendGridMaxBytes {
			col.fail(ContactError{Email: c.Email, Code: "too_large", Message: fmt.Sprintf("fields exceed SendGrid's %d-byte request limit", SendGridMaxBytes)})
			continue
		}
		if len(cur.emails) == s.batch || size+len(raw)+1 > SendGridMaxBytes {
			batches = append(batches, cur)
			cur, size = &sgBatch{}, envelope
		}
		cur.emails = append(cur.emails, c.Email)
		cur.raw = append(cur.raw, raw)
		size += len(raw) + 1
	}
	if len(cur.emails) > 0 {
		batches = append(batches, cur)
	}
	err := parallel(ctx, len(batches), s.conns, func(ctx context.Context, i int) error {
		return s.upsertBatch(ctx, batches[i], &col)
	})
	return col.result(), err
}

var sgContactIndex = regexp.MustCompile(`^contacts\[(\d+)\]`)

func (s *sendgrid) upsertBatch(ctx context.Context, b *sgBatch, col *collector) error {
	emails, raw := b.emails, b.raw
	// A 400 naming contacts[i] rejects the whole request for those few: record them and send
	// the rest again (a bounded number of times).
	for round := 0; ; round++ {
		if len(emails) == 0 {
			return nil
		}
		_, body, err := s.c.do(ctx, request{
			op: "upsert contacts", method: http.MethodPut, url: s.api + "/marketing/contacts",
			body: jsonBody(map[string]any{"list_ids": []string{s.list}, "contacts": raw}),
		})
		if err != nil {
			bad := rejectedIndexes(err, body, len(emails))
			if bad == nil || round >= 2 {
				return err
			}
			var keepE []string
			var keepR []json.RawMessage
			for i := range emails {
				if msg, ok := bad[i]; ok {
					col.fail(ContactError{Email: emails[i], Code: "invalid", Field: msg.field, Message: msg.message})
					continue
				}
				keepE, keepR = append(keepE, emails[i]), append(keepR, raw[i])
			}
			emails, raw = keepE, keepR
			continue
		}
		var ans struct {
			JobID string `json:"job_id"`
		}
		if err := json.Unmarshal(body, &ans); err != nil || ans.JobID == "" {
			return fmt.Errorf("sendgrid upsert contacts: answer has no job_id")
		}
		failed, err := s.waitJob(ctx, ans.JobID, emails)
		col.fail(failed...)
		if err != nil {
			return err
		}
		col.confirm(without(emails, failed)...)
		return nil
	}
}

type fieldMsg struct{ field, message string }

// rejectedIndexes reads a 400's {"errors":[{"field":"contacts[3].email","message":…}]}; nil
// unless every error names a contact in range.
func rejectedIndexes(err error, body []byte, n int) map[int]fieldMsg {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		return nil
	}
	var doc struct {
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Errors) == 0 {
		return nil
	}
	out := map[int]fieldMsg{}
	for _, e := range doc.Errors {
		m := sgContactIndex.FindStringSubmatch(e.Field)
		if m == nil {
			return nil
		}
		i, convErr := strconv.Atoi(m[1])
		if convErr != nil || i >= n {
			return nil
		}
		field := strings.TrimPrefix(strings.TrimPrefix(e.Field, m[0]), ".")
		out[i] = fieldMsg{field: field, message: redact(e.Message)}
	}
	return out
}

type sgJob struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Results struct {
		RequestedCount int    `json:"requested_count"`
		ErroredCount   int    `json:"errored_count"`
		ErrorsURL      string `json:"errors_url"`
	} `json:"results"`
}

// waitJob polls an import (or delete) job until it finishes. completed: all confirmed;
// errored: the errors file names the failed contacts (if it cannot name all of them, the call
// errs and nothing else is confirmed); failed: the job as a whole did not apply.
func (s *sendgrid) waitJob(ctx context.Context, id string, emails []string) ([]ContactError, error) {
	deadline := s.c.now().Add(s.pollTimeout)
	wait := s.poll
	for {
		_, body, err := s.c.do(ctx, request{op: "read import status", method: http.MethodGet,
			url: s.api + "/marketing/contacts/imports/" + url.PathEscape(id)})
		if err != nil {
			return nil, err
		}
		var job sgJob
		if err := json.Unmarshal(body, &job); err != nil {
			return nil, fmt.Errorf("sendgrid read import status: decoding answer: %w", err)
		}
		switch job.Status {
		case "completed":
			return nil, nil
		case "errored", "failed":
			failed, ferr := s.jobErrors(ctx, job, emails)
			if job.Status == "failed" {
				return failed, fmt.Errorf("sendgrid import job failed (%d of %d contacts named in its errors)", len(failed), len(emails))
			}
			if ferr != nil {
				return nil, ferr
			}
			if len(failed) < job.Results.ErroredCount {
				return nil, fmt.Errorf("sendgrid import job: %d errors reported, %d attributable to contacts", job.Results.ErroredCount, len(failed))
			}
			return failed, nil
		case "pending", "":
		default:
			return nil, fmt.Errorf("sendgrid import job: unknown status %q", job.Status)
		}
		if !s.c.now().Before(deadline) {
			return nil, fmt.Errorf("sendgrid import job still pending after %s", s.pollTimeout)
		}
		if err := s.c.retry.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("sendgrid read import status: %w", err)
		}
		wait = min(wait*2, 10*s.poll)
	}
}

// jobErrors downloads the job's errors file (CSV with an email column and an error column, or
// JSON {"errors":[{"email","message"}]}) and keeps the rows for emails of this batch.
func (s *sendgrid) jobErrors(ctx context.Context, job sgJob, emails []string) ([]ContactError, error) {
	if job.Results.ErrorsURL == "" {
		return nil, fmt.Errorf("sendgrid import job %s: errors reported without an errors file", job.Status)
	}
	if _, err := checkURL("errors_url", job.Results.ErrorsURL, s.c.allowPrivate); err != nil {
		return nil, fmt.Errorf("sendgrid import job: %w", err)
	}
	_, body, err := s.c.do(ctx, request{op: "read import errors", method: http.MethodGet, url: job.Results.ErrorsURL})
	if err != nil {
		return nil, err
	}
	rows, err := parseErrorsFile(body)
	if err != nil {
		return nil, fmt.Errorf("sendgrid read import errors: %w", err)
	}
	var out []ContactError
	seen := map[string]bool{}
	for _, r := range rows {
		email := strings.ToLower(strings.TrimSpace(r.field))
		if email == "" || seen[email] {
			continue
		}
		seen[email] = true
		out = append(out, ContactError{Email: email, Code: "import_error", Message: redact(r.message)})
	}
	return onlyForEmails(out, emails), nil
}

// parseErrorsFile returns (email, message) pairs, in fieldMsg{field: email, message}.
func parseErrorsFile(body []byte) ([]fieldMsg, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		var doc struct {
			Errors []struct {
				Email   string `json:"email"`
				Message string `json:"message"`
				Error   string `json:"error"`
			} `json:"errors"`
		}
		if trimmed[0] == '[' {
			trimmed = append(append([]byte(`{"errors":`), trimmed...), '}')
		}
		if err := json.Unmarshal(trimmed, &doc); err != nil {
			return nil, fmt.Errorf("decoding errors file: %w", err)
		}
		out := make([]fieldMsg, 0, len(doc.Errors))
		for _, e := range doc.Errors {
			out = append(out, fieldMsg{field: e.Email, message: e.Message + e.Error})
		}
		return out, nil
	}
	r := csv.NewReader(bytes.NewReader(trimmed))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading errors file header: %w", err)
	}
	emailCol, msgCol := -1, -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case emailCol < 0 && strings.Contains(h, "email"):
			emailCol = i
		case msgCol < 0 && (strings.Contains(h, "error") || strings.Contains(h, "message") || strings.Contains(h, "reason")):
			msgCol = i
		}
	}
	if emailCol < 0 {
		return nil, fmt.Errorf("errors file has no email column")
	}
	var out []fieldMsg
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading errors file: %w", err)
		}
		fm := fieldMsg{}
		if emailCol < len(rec) {
			fm.field = rec[emailCol]
		}
		if msgCol >= 0 && msgCol < len(rec) {
			fm.message = rec[msgCol]
		}
		out = append(out, fm)
	}
}

// lookup maps emails (≤100) to SendGrid contact ids; emails SendGrid does not hold are absent.
func (s *sendgrid) lookup(ctx context.Context, emails []string) (map[string]string, error) {
	status, body, err := s.c.do(ctx, request{
		op: "search contacts by email", method: http.MethodPost, url: s.api + "/marketing/contacts/search/emails",
		body: jsonBody(map[string][]string{"emails": emails}), accept: []int{http.StatusNotFound},
	})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	if status == http.StatusNotFound {
		return ids, nil
	}
	var ans struct {
		Result map[string]struct {
			Contact *struct {
				ID string `json:"id"`
			} `json:"contact"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("sendgrid search contacts by email: decoding answer: %w", err)
	}
	for email, r := range ans.Result {
		if r.Contact != nil && r.Contact.ID != "" {
			ids[strings.ToLower(email)] = r.Contact.ID
		}
	}
	return ids, nil
}

// Remove looks the emails up (≤100 per search) and removes the found contacts from the list.
// Emails SendGrid does not hold are confirmed: they are not on the list.
func (s *sendgrid) Remove(ctx context.Context, emails []string) (Result, error) {
	return s.byID(ctx, emails, func(ctx context.Context, ids []string) error {
		_, _, err := s.c.do(ctx, request{op: "remove contacts from list", method: http.MethodDelete,
			url: s.api + "/marketing/lists/" + url.PathEscape(s.list) + "/contacts?contact_ids=" + url.QueryEscape(strings.Join(ids, ","))})
		return err
	})
}

// Leave is Remove: the list is the campaign's audience.
func (s *sendgrid) Leave(ctx context.Context, emails []string) (Result, error) {
	return s.Remove(ctx, emails)
}

// Erase deletes the contacts from SendGrid altogether and waits for the delete job.
func (s *sendgrid) Erase(ctx context.Context, emails []string) (Result, error) {
	return s.byID(ctx, emails, func(ctx context.Context, ids []string) error {
		_, body, err := s.c.do(ctx, request{op: "delete contacts", method: http.MethodDelete,
			url: s.api + "/marketing/contacts?ids=" + url.QueryEscape(strings.Join(ids, ","))})
		if err != nil {
			return err
		}
		var ans struct {
			JobID string `json:"job_id"`
		}
		if json.Unmarshal(body, &ans) != nil || ans.JobID == "" {
			return nil // accepted without a job to follow
		}
		_, err = s.waitJob(ctx, ans.JobID, nil)
		return err
	})
}

func (s *sendgrid) byID(ctx context.Context, emails []string, apply func(ctx context.Context, ids []string) error) (Result, error) {
	batches := chunks(uniqueEmails(emails), SendGridMaxSearch)
	var col collector
	err := parallel(ctx, len(batches), s.conns, func(ctx context.Context, i int) error {
		ids, err := s.lookup(ctx, batches[i])
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			list := make([]string, 0, len(ids))
			for _, e := range batches[i] {
				if id, ok := ids[e]; ok {
					list = append(list, id)
				}
			}
			if err := apply(ctx, list); err != nil {
				return err
			}
		}
		col.confirm(batches[i]...)
		return nil
	})
	return col.result(), err
}
