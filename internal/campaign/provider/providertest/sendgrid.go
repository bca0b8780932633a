package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
)

// SendGridOpts configures a fake SendGrid; nil means defaults.
type SendGridOpts struct {
	APIKey string // default "SG.fake"
	ListID string // default "list-1"
	// PollsUntilDone is how many status polls answer "pending" before a job finishes; default 1.
	PollsUntilDone int
	MaxConcurrent  int // 0: unlimited
	Latency        time.Duration
	// ErrorsElsewhere serves import errors files from a second server (another host, as
	// SendGrid's presigned storage URLs are) that requires no key and records the
	// Authorization headers it receives (ErrorsAuth).
	ErrorsElsewhere bool
}

// SendGridContact is a contact as the fake holds it.
type SendGridContact struct {
	ID     string
	Email  string
	Fields map[string]any // everything sent besides email (first_name, custom_fields…)
	Lists  []string
}

// SendGrid is a fake Marketing Contacts API. Use URL as Config.BaseURL.
type SendGrid struct {
	*httptest.Server
	control
	APIKey, ListID string

	state    sync.Mutex
	contacts map[string]*sgContact
	jobs     map[string]*sgJob
	rejects  map[string]string
	polls    int
	nextID   int

	errorsSrv  *httptest.Server // nil: errors files are served by the API host
	errorsAuth []string
}

type sgContact struct {
	id     string
	fields map[string]any
	lists  map[string]bool
}

type sgJob struct {
	kind      string
	polls     int
	done      bool
	apply     func() []sgErrRow // runs under f.state when the job finishes
	errors    []sgErrRow
	requested int
}

type sgErrRow struct{ email, message string }

// NewSendGrid starts a fake SendGrid, closed when the test ends.
func NewSendGrid(t testing.TB, opts *SendGridOpts) *SendGrid {
	if opts == nil {
		opts = &SendGridOpts{}
	}
	f := &SendGrid{
		APIKey:   cmp(opts.APIKey, "SG.fake"),
		ListID:   cmp(opts.ListID, "list-1"),
		contacts: map[string]*sgContact{},
		jobs:     map[string]*sgJob{},
		rejects:  map[string]string{},
		polls:    opts.PollsUntilDone,
	}
	if f.polls <= 0 {
		f.polls = 1
	}
	f.maxConcurrent = opts.MaxConcurrent
	f.latency = opts.Latency

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v3/marketing/lists/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != f.ListID {
			sgError(w, 404, "", "list not found")
			return
		}
		writeJSON(w, 200, map[string]any{"id": f.ListID, "name": "Fake list", "contact_count": len(f.ListMembers())})
	})
	mux.HandleFunc("PUT /v3/marketing/contacts", f.upsert)
	mux.HandleFunc("GET /v3/marketing/contacts/imports/{id}", f.jobStatus)
	mux.HandleFunc("GET /v3/marketing/contacts/imports/errors/{id}", f.jobErrors)
	mux.HandleFunc("POST /v3/marketing/contacts/search/emails", f.search)
	mux.HandleFunc("DELETE /v3/marketing/lists/{id}/contacts", f.removeFromList)
	mux.HandleFunc("DELETE /v3/marketing/contacts", f.deleteContacts)
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.APIKey {
			sgError(w, 401, "", "authorization required")
			return
		}
		mux.ServeHTTP(w, r)
	})
	f.Server = httptest.NewServer(f.wrap(func(w http.ResponseWriter) {
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
		sgError(w, 429, "", "too many requests")
	}, auth))
	t.Cleanup(f.Server.Close)
	if opts.ErrorsElsewhere {
		f.errorsSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.state.Lock()
			f.errorsAuth = append(f.errorsAuth, r.Header.Get("Authorization"))
			f.state.Unlock()
			r.SetPathValue("id", strings.TrimPrefix(r.URL.Path, "/errors/"))
			f.jobErrors(w, r)
		}))
		t.Cleanup(f.errorsSrv.Close)
	}
	return f
}

// ErrorsAuth returns the Authorization header of each request the errors host received
// ("" when none was sent); nil without ErrorsElsewhere.
func (f *SendGrid) ErrorsAuth() []string {
	f.state.Lock()
	defer f.state.Unlock()
	return slices.Clone(f.errorsAuth)
}

func sgError(w http.ResponseWriter, status int, field, msg string) {
	e := map[string]string{"message": msg}
	if field != "" {
		e["field"] = field
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]string{e}})
}

// ThrottleNext answers the next n requests 429 with X-RateLimit-Reset: reset (epoch seconds).
func (f *SendGrid) ThrottleNext(n int, reset time.Time) {
	f.FailNextWith(n, http.StatusTooManyRequests, http.Header{"X-RateLimit-Reset": {strconv.FormatInt(reset.Unix(), 10)}})
}

// Reject makes import jobs report an error for email (the job ends "errored").
func (f *SendGrid) Reject(email, message string) {
	f.state.Lock()
	f.rejects[strings.ToLower(email)] = message
	f.state.Unlock()
}

// Contact returns a copy of a contact.
func (f *SendGrid) Contact(email string) (SendGridContact, bool) {
	f.state.Lock()
	defer f.state.Unlock()
	c, ok := f.contacts[strings.ToLower(email)]
	if !ok {
		return SendGridContact{}, false
	}
	return SendGridContact{ID: c.id, Email: strings.ToLower(email), Fields: maps.Clone(c.fields), Lists: slices.Sorted(maps.Keys(c.lists))}, true
}

// Contacts returns every contact's email, sorted.
func (f *SendGrid) Contacts() []string {
	f.state.Lock()
	defer f.state.Unlock()
	return slices.Sorted(maps.Keys(f.contacts))
}

// ListMembers returns the emails on the fake's list, sorted.
func (f *SendGrid) ListMembers() []string {
	f.state.Lock()
	defer f.state.Unlock()
	var out []string
	for e, c := range f.contacts {
		if c.lists[f.ListID] {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// PendingJobs counts jobs not yet finished.
func (f *SendGrid) PendingJobs() int {
	f.state.Lock()
	defer f.state.Unlock()
	n := 0
	for _, j := range f.jobs {
		if !j.done {
			n++
		}
	}
	return n
}

func (f *SendGrid) newJob(kind string, requested int, apply func() []sgErrRow) string {
	f.nextID++
	id := fmt.Sprintf("job-%d", f.nextID)
	f.jobs[id] = &sgJob{kind: kind, apply: apply, requested: requested}
	return id
}

func (f *SendGrid) upsert(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, provider.SendGridMaxBytes+1))
	if err != nil {
		sgError(w, 400, "", "cannot read body")
		return
	}
	if len(raw) > provider.SendGridMaxBytes {
		sgError(w, 413, "", "request body exceeds 6 MB")
		return
	}
	var body struct {
		ListIDs  []string         `json:"list_ids"`
		Contacts []map[string]any `json:"contacts"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		sgError(w, 400, "", "invalid JSON")
		return
	}
	if len(body.Contacts) > provider.SendGridMaxBatch {
		sgError(w, 400, "contacts", fmt.Sprintf("at most %d contacts per request", provider.SendGridMaxBatch))
		return
	}
	for _, l := range body.ListIDs {
		if l != f.ListID {
			sgError(w, 400, "list_ids", "list does not exist")
			return
		}
	}
	var errs []map[string]string
	emails := make([]string, len(body.Contacts))
	for i, c := range body.Contacts {
		e, _ := c["email"].(string)
		emails[i] = e
		if !strings.Contains(e, "@") {
			errs = append(errs, map[string]string{"field": fmt.Sprintf("contacts[%d].email", i), "message": "email is invalid"})
		}
	}
	if len(errs) > 0 {
		writeJSON(w, 400, map[string]any{"errors": errs})
		return
	}
	f.record("upsert", emails)
	f.state.Lock()
	id := f.newJob("upsert", len(body.Contacts), func() []sgErrRow {
		var rows []sgErrRow
		for _, c := range body.Contacts {
			email := strings.ToLower(c["email"].(string))
			if msg, ok := f.rejects[email]; ok {
				rows = append(rows, sgErrRow{email: email, message: msg})
				continue
			}
			cur, ok := f.contacts[email]
			if !ok {
				f.nextID++
				cur = &sgContact{id: fmt.Sprintf("c-%d", f.nextID), fields: map[string]any{}, lists: map[string]bool{}}
				f.contacts[email] = cur
			}
			for k, v := range c {
				if k != "email" {
					cur.fields[k] = v
				}
			}
			for _, l := range body.ListIDs {
				cur.lists[l] = true
			}
		}
		return rows
	})
	f.state.Unlock()
	writeJSON(w, 202, map[string]any{"job_id": id})
}

func (f *SendGrid) jobStatus(w http.ResponseWriter, r *http.Request) {
	f.state.Lock()
	j, ok := f.jobs[r.PathValue("id")]
	if !ok {
		f.state.Unlock()
		sgError(w, 404, "", "job not found")
		return
	}
	j.polls++
	if !j.done && j.polls > f.polls {
		j.errors = j.apply()
		j.done = true
	}
	status := "pending"
	if j.done {
		switch {
		case len(j.errors) == 0:
			status = "completed"
		case len(j.errors) == j.requested:
			status = "failed"
		default:
			status = "errored"
		}
	}
	results := map[string]any{"requested_count": j.requested, "errored_count": len(j.errors)}
	if len(j.errors) > 0 {
		results["errors_url"] = f.URL + "/v3/marketing/contacts/imports/errors/" + r.PathValue("id")
		if f.errorsSrv != nil {
			results["errors_url"] = f.errorsSrv.URL + "/errors/" + r.PathValue("id")
		}
	}
	f.state.Unlock()
	writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "status": status, "job_type": j.kind, "results": results})
}

// jobErrors serves the errors file as CSV (email,errors).
func (f *SendGrid) jobErrors(w http.ResponseWriter, r *http.Request) {
	f.state.Lock()
	j, ok := f.jobs[r.PathValue("id")]
	var rows []sgErrRow
	if ok {
		rows = slices.Clone(j.errors)
	}
	f.state.Unlock()
	if !ok {
		sgError(w, 404, "", "job not found")
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	var b strings.Builder
	b.WriteString("email,errors\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "%s,%q\n", row.email, row.message)
	}
	_, _ = io.WriteString(w, b.String())
}

func (f *SendGrid) search(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Emails []string `json:"emails"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		sgError(w, 400, "", "invalid JSON")
		return
	}
	if len(body.Emails) > provider.SendGridMaxSearch {
		sgError(w, 400, "emails", fmt.Sprintf("at most %d emails", provider.SendGridMaxSearch))
		return
	}
	f.record("search", body.Emails)
	result := map[string]any{}
	found := 0
	f.state.Lock()
	for _, e := range body.Emails {
		if c, ok := f.contacts[strings.ToLower(e)]; ok {
			result[e] = map[string]any{"contact": map[string]any{"id": c.id, "email": strings.ToLower(e)}}
			found++
		} else {
			result[e] = map[string]any{"error": "contact not found"}
		}
	}
	f.state.Unlock()
	if found == 0 {
		sgError(w, 404, "", "No contacts found")
		return
	}
	writeJSON(w, 200, map[string]any{"result": result})
}

// emailsForIDs maps contact ids back to emails; the caller holds f.state.
func (f *SendGrid) emailsForIDs(ids []string) []string {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []string
	for e, c := range f.contacts {
		if want[c.id] {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

func (f *SendGrid) removeFromList(w http.ResponseWriter, r *http.Request) {
	list := r.PathValue("id")
	if list != f.ListID {
		sgError(w, 404, "", "list not found")
		return
	}
	ids := strings.Split(r.URL.Query().Get("contact_ids"), ",")
	if len(ids) == 0 || ids[0] == "" || len(ids) > provider.SendGridMaxSearch {
		sgError(w, 400, "contact_ids", "between 1 and 100 ids required")
		return
	}
	f.state.Lock()
	emails := f.emailsForIDs(ids)
	for _, e := range emails {
		delete(f.contacts[e].lists, list)
	}
	id := f.newJob("delete", len(ids), func() []sgErrRow { return nil })
	f.state.Unlock()
	f.record("list_remove", emails)
	writeJSON(w, 202, map[string]any{"job_id": id})
}

func (f *SendGrid) deleteContacts(w http.ResponseWriter, r *http.Request) {
	ids := strings.Split(r.URL.Query().Get("ids"), ",")
	if len(ids) == 0 || ids[0] == "" || len(ids) > provider.SendGridMaxSearch {
		sgError(w, 400, "ids", "between 1 and 100 ids required")
		return
	}
	f.state.Lock()
	emails := f.emailsForIDs(ids)
	id := f.newJob("delete", len(ids), func() []sgErrRow {
		for _, e := range emails {
			delete(f.contacts, e)
		}
		return nil
	})
	f.state.Unlock()
	f.record("delete", emails)
	writeJSON(w, 202, map[string]any{"job_id": id})
}
