package providertest

import (
	"encoding/json"
	"fmt"
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

// MailchimpOpts configures a fake Mailchimp; nil means defaults.
type MailchimpOpts struct {
	APIKey string // default "fakekey-us6"
	ListID string // default "list1"
	// MaxConcurrent requests before a 429 TooManyRequests; 0 means Mailchimp's 10, -1 unlimited.
	MaxConcurrent int
	Latency       time.Duration
}

// MailchimpMember is a member as the fake holds it.
type MailchimpMember struct {
	Email       string
	Status      string // subscribed, unsubscribed, archived…
	MergeFields map[string]string
}

// Mailchimp is a fake Marketing API v3 for one audience. Use URL as Config.BaseURL.
type Mailchimp struct {
	*httptest.Server
	control
	APIKey, ListID string

	state    sync.Mutex
	members  map[string]*MailchimpMember // by lower-case email
	hashes   map[string]string           // subscriber hash → email
	deleted  map[string]bool             // permanently deleted (cannot be re-imported)
	segments map[int64]*mcSegment
	nextSeg  int64
	rejects  map[string]mcReject
}

type mcSegment struct {
	name    string
	members map[string]bool
}

type mcReject struct{ code, field, message string }

// NewMailchimp starts a fake Mailchimp, closed when the test ends.
func NewMailchimp(t testing.TB, opts *MailchimpOpts) *Mailchimp {
	f := StartMailchimp(opts)
	t.Cleanup(f.Server.Close)
	return f
}

// StartMailchimp starts a fake Mailchimp outside a test (cairn bench sync); the caller closes
// it.
func StartMailchimp(opts *MailchimpOpts) *Mailchimp {
	if opts == nil {
		opts = &MailchimpOpts{}
	}
	f := &Mailchimp{
		APIKey:   cmp(opts.APIKey, "fakekey-us6"),
		ListID:   cmp(opts.ListID, "list1"),
		members:  map[string]*MailchimpMember{},
		hashes:   map[string]string{},
		deleted:  map[string]bool{},
		segments: map[int64]*mcSegment{},
		nextSeg:  1000,
		rejects:  map[string]mcReject{},
	}
	switch {
	case opts.MaxConcurrent == 0:
		f.maxConcurrent = provider.MailchimpMaxConns
	case opts.MaxConcurrent > 0:
		f.maxConcurrent = opts.MaxConcurrent
	}
	f.latency = opts.Latency

	mux := http.NewServeMux()
	mux.HandleFunc("GET /3.0/ping", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"health_status": "Everything's Chimpy!"})
	})
	mux.HandleFunc("GET /3.0/lists/{list}", f.list(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": f.ListID, "name": "Fake audience"})
	}))
	mux.HandleFunc("POST /3.0/lists/{list}", f.list(f.batch))
	mux.HandleFunc("GET /3.0/lists/{list}/segments", f.list(f.listSegments))
	mux.HandleFunc("POST /3.0/lists/{list}/segments", f.list(f.createSegment))
	mux.HandleFunc("POST /3.0/lists/{list}/segments/{seg}", f.list(f.changeSegment))
	mux.HandleFunc("DELETE /3.0/lists/{list}/members/{hash}", f.list(f.archive))
	mux.HandleFunc("POST /3.0/lists/{list}/members/{hash}/actions/delete-permanent", f.list(f.deletePermanent))

	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, key, ok := r.BasicAuth(); !ok || key != f.APIKey {
			mcProblem(w, 401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.")
			return
		}
		mux.ServeHTTP(w, r)
	})
	f.Server = httptest.NewServer(f.wrap(func(w http.ResponseWriter) {
		mcProblem(w, 429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
	}, auth))
	return f
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func mcProblem(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, map[string]any{"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": title, "status": status, "detail": detail})
}

func (f *Mailchimp) list(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("list") != f.ListID {
			mcProblem(w, 404, "Resource Not Found", "The requested resource could not be found.")
			return
		}
		h(w, r)
	}
}

// ThrottleNext answers the next n requests 429 with Retry-After: retryAfter (seconds or a date).
func (f *Mailchimp) ThrottleNext(n int, retryAfter string) {
	f.FailNextWith(n, http.StatusTooManyRequests, http.Header{"Retry-After": {retryAfter}})
}

// Reject makes every batch answer a per-member error for email (in a 200).
func (f *Mailchimp) Reject(email, code, field string) {
	f.state.Lock()
	defer f.state.Unlock()
	f.rejects[strings.ToLower(email)] = mcReject{code: code, field: field, message: "fake rejection"}
}

// SetMember puts a member in place, e.g. one who unsubscribed in Mailchimp.
func (f *Mailchimp) SetMember(email, status string, fields map[string]string) {
	f.state.Lock()
	defer f.state.Unlock()
	f.members[strings.ToLower(email)] = &MailchimpMember{Email: strings.ToLower(email), Status: status, MergeFields: maps.Clone(fields)}
	f.hashes[provider.SubscriberHash(email)] = strings.ToLower(email)
}

// Member returns a copy of a member.
func (f *Mailchimp) Member(email string) (MailchimpMember, bool) {
	f.state.Lock()
	defer f.state.Unlock()
	m, ok := f.members[strings.ToLower(email)]
	if !ok {
		return MailchimpMember{}, false
	}
	return MailchimpMember{Email: m.Email, Status: m.Status, MergeFields: maps.Clone(m.MergeFields)}, true
}

// WithStatus returns the emails of members with that status, sorted.
func (f *Mailchimp) WithStatus(status string) []string {
	f.state.Lock()
	defer f.state.Unlock()
	var out []string
	for e, m := range f.members {
		if m.Status == status {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// Deleted returns the permanently deleted emails, sorted.
func (f *Mailchimp) Deleted() []string {
	f.state.Lock()
	defer f.state.Unlock()
	out := slices.Sorted(maps.Keys(f.deleted))
	return out
}

// SegmentMembers returns the members of the static segment named name, sorted; nil if none.
func (f *Mailchimp) SegmentMembers(name string) []string {
	f.state.Lock()
	defer f.state.Unlock()
	for _, s := range f.segments {
		if s.name == name {
			return slices.Sorted(maps.Keys(s.members))
		}
	}
	return nil
}

// SegmentCount is how many segments exist.
func (f *Mailchimp) SegmentCount() int {
	f.state.Lock()
	defer f.state.Unlock()
	return len(f.segments)
}

func (f *Mailchimp) batch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Members []struct {
			EmailAddress string            `json:"email_address"`
			Status       string            `json:"status"`
			StatusIfNew  string            `json:"status_if_new"`
			MergeFields  map[string]string `json:"merge_fields"`
		} `json:"members"`
		UpdateExisting bool `json:"update_existing"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		mcProblem(w, 400, "JSON Parse Error", "We encountered an unspecified JSON parsing error.")
		return
	}
	if len(body.Members) > provider.MailchimpMaxBatch {
		mcProblem(w, 400, "Invalid Resource", fmt.Sprintf("members: expected at most %d items, got %d", provider.MailchimpMaxBatch, len(body.Members)))
		return
	}
	emails := make([]string, len(body.Members))
	for i, m := range body.Members {
		emails[i] = m.EmailAddress
	}
	f.record("upsert", emails)

	type memberOut struct {
		EmailAddress string `json:"email_address"`
		Status       string `json:"status"`
	}
	type errOut struct {
		EmailAddress string `json:"email_address"`
		Error        string `json:"error"`
		ErrorCode    string `json:"error_code"`
		Field        string `json:"field,omitempty"`
		FieldMessage string `json:"field_message,omitempty"`
	}
	newMembers, updated, errs := []memberOut{}, []memberOut{}, []errOut{}
	f.state.Lock()
	seen := map[string]bool{}
	for _, m := range body.Members {
		email := strings.ToLower(strings.TrimSpace(m.EmailAddress))
		if rej, ok := f.rejects[email]; ok {
			errs = append(errs, errOut{EmailAddress: m.EmailAddress, Error: m.EmailAddress + " " + rej.message, ErrorCode: rej.code, Field: rej.field, FieldMessage: rej.message})
			continue
		}
		switch {
		case !strings.Contains(email, "@"):
			errs = append(errs, errOut{EmailAddress: m.EmailAddress, Error: "Please provide a valid email address.", ErrorCode: "ERROR_GENERIC", Field: "email_address"})
			continue
		case seen[email]:
			errs = append(errs, errOut{EmailAddress: m.EmailAddress, Error: "duplicate in this batch", ErrorCode: "ERROR_DUPLICATE"})
			continue
		case f.deleted[email]:
			errs = append(errs, errOut{EmailAddress: m.EmailAddress, Error: m.EmailAddress + " was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.", ErrorCode: "ERROR_GENERIC"})
			continue
		}
		seen[email] = true
		statusIfNew := cmp(m.StatusIfNew, cmp(m.Status, "subscribed"))
		if cur, ok := f.members[email]; ok {
			if !body.UpdateExisting {
				errs = append(errs, errOut{EmailAddress: m.EmailAddress, Error: m.EmailAddress + " is already a list member.", ErrorCode: "ERROR_CONTACT_EXISTS"})
				continue
			}
			if cur.Status == "archived" {
				cur.Status = statusIfNew
			} else if m.Status != "" {
				cur.Status = m.Status
			}
			if cur.MergeFields == nil {
				cur.MergeFields = map[string]string{}
			}
			maps.Copy(cur.MergeFields, m.MergeFields)
			updated = append(updated, memberOut{EmailAddress: m.EmailAddress, Status: cur.Status})
			continue
		}
		f.members[email] = &MailchimpMember{Email: email, Status: statusIfNew, MergeFields: maps.Clone(m.MergeFields)}
		f.hashes[provider.SubscriberHash(email)] = email
		newMembers = append(newMembers, memberOut{EmailAddress: m.EmailAddress, Status: statusIfNew})
	}
	f.state.Unlock()
	writeJSON(w, 200, map[string]any{
		"new_members": newMembers, "updated_members": updated, "errors": errs,
		"total_created": len(newMembers), "total_updated": len(updated), "error_count": len(errs),
	})
}

func (f *Mailchimp) listSegments(w http.ResponseWriter, r *http.Request) {
	count, _ := strconv.Atoi(r.URL.Query().Get("count"))
	if count <= 0 {
		count = 10
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	f.state.Lock()
	ids := slices.Sorted(maps.Keys(f.segments))
	type segOut struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	out := []segOut{}
	for i := offset; i < len(ids) && i < offset+count; i++ {
		out = append(out, segOut{ID: ids[i], Name: f.segments[ids[i]].name})
	}
	total := len(ids)
	f.state.Unlock()
	writeJSON(w, 200, map[string]any{"segments": out, "total_items": total})
}

func (f *Mailchimp) createSegment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name          string   `json:"name"`
		StaticSegment []string `json:"static_segment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" {
		mcProblem(w, 400, "Invalid Resource", "name: required")
		return
	}
	f.state.Lock()
	f.nextSeg++
	id := f.nextSeg
	f.segments[id] = &mcSegment{name: body.Name, members: map[string]bool{}}
	f.state.Unlock()
	writeJSON(w, 200, map[string]any{"id": id, "name": body.Name, "type": "static", "member_count": 0})
}

func (f *Mailchimp) changeSegment(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("seg"), 10, 64)
	var body struct {
		Add    []string `json:"members_to_add"`
		Remove []string `json:"members_to_remove"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		mcProblem(w, 400, "JSON Parse Error", "We encountered an unspecified JSON parsing error.")
		return
	}
	if len(body.Add) > provider.MailchimpMaxBatch || len(body.Remove) > provider.MailchimpMaxBatch {
		mcProblem(w, 400, "Invalid Resource", fmt.Sprintf("members_to_add and members_to_remove take at most %d items each", provider.MailchimpMaxBatch))
		return
	}
	f.state.Lock()
	seg, ok := f.segments[id]
	if !ok {
		f.state.Unlock()
		mcProblem(w, 404, "Resource Not Found", "The requested segment was not found.")
		return
	}
	var notMembers, notInSegment []string
	added, removed := []string{}, []string{}
	for _, e := range body.Add {
		email := strings.ToLower(e)
		m, ok := f.members[email]
		if !ok || m.Status == "archived" {
			notMembers = append(notMembers, e)
			continue
		}
		if !seg.members[email] {
			seg.members[email] = true
			added = append(added, e)
		}
	}
	for _, e := range body.Remove {
		email := strings.ToLower(e)
		if !seg.members[email] {
			notInSegment = append(notInSegment, e)
			continue
		}
		delete(seg.members, email)
		removed = append(removed, e)
	}
	f.state.Unlock()
	if len(body.Add) > 0 {
		f.record("segment_add", body.Add)
	}
	if len(body.Remove) > 0 {
		f.record("segment_remove", body.Remove)
	}
	errs := []map[string]any{}
	if len(notMembers) > 0 {
		errs = append(errs, map[string]any{"email_addresses": notMembers, "error": "Email addresses are not subscribed to the list"})
	}
	if len(notInSegment) > 0 {
		errs = append(errs, map[string]any{"email_addresses": notInSegment, "error": "Email addresses are not in the segment"})
	}
	writeJSON(w, 200, map[string]any{
		"members_added": added, "members_removed": removed, "errors": errs,
		"total_added": len(added), "total_removed": len(removed), "error_count": len(notMembers) + len(notInSegment),
	})
}

// byHash finds a member by subscriber hash; the caller holds f.state.
func (f *Mailchimp) byHash(hash string) (string, *MailchimpMember) {
	e, ok := f.hashes[hash]
	if !ok {
		return "", nil
	}
	return e, f.members[e]
}

func (f *Mailchimp) archive(w http.ResponseWriter, r *http.Request) {
	f.state.Lock()
	email, m := f.byHash(r.PathValue("hash"))
	if m == nil || m.Status == "archived" {
		f.state.Unlock()
		mcProblem(w, 404, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	m.Status = "archived"
	for _, s := range f.segments {
		delete(s.members, email)
	}
	f.state.Unlock()
	f.record("archive", []string{email})
	w.WriteHeader(http.StatusNoContent)
}

func (f *Mailchimp) deletePermanent(w http.ResponseWriter, r *http.Request) {
	f.state.Lock()
	email, m := f.byHash(r.PathValue("hash"))
	if m == nil {
		f.state.Unlock()
		mcProblem(w, 404, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	delete(f.members, email)
	delete(f.hashes, r.PathValue("hash"))
	f.deleted[email] = true
	for _, s := range f.segments {
		delete(s.members, email)
	}
	f.state.Unlock()
	f.record("delete_permanent", []string{email})
	w.WriteHeader(http.StatusNoContent)
}
