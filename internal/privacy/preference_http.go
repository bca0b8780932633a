package privacy

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed preference_page.html
var preferencePageHTML string

var preferencePage = template.Must(template.New("preferences").Parse(preferencePageHTML))

// purposeLabels are the page's names for the purposes.
var purposeLabels = map[string]string{
	"email_marketing": "marketing emails", "sms_marketing": "marketing text messages",
	"analytics": "analytics", "personalization": "personalisation",
}

// maxPreferenceBody bounds a preference form or JSON body.
const maxPreferenceBody = 4 << 10

// Handler serves the people's own endpoints: the preference page (GET/POST
// /preferences/{token}, POST /preferences/{token}/export), its JSON twin (GET/POST
// /v1/preferences/{token}) and export downloads (GET /v1/exports/{token}). The token is the
// capability (no API key, no cookie), so forms need no CSRF token; every answer is no-store and
// no-referrer, since the token is in the URL. An invalid or expired token is a 404 with no data.
func (s *Service) Handler(log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &prefHandler{s: s, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /preferences/{token}", h.page)
	mux.HandleFunc("POST /preferences/{token}", h.pagePost)
	mux.HandleFunc("POST /preferences/{token}/export", h.pageExport)
	mux.HandleFunc("GET /v1/preferences/{token}", h.jsonGet)
	mux.HandleFunc("POST /v1/preferences/{token}", h.jsonPost)
	mux.HandleFunc("GET /v1/exports/{token}", h.download)
	return headers(mux)
}

type prefHandler struct {
	s   *Service
	log *slog.Logger
}

func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

type purposeView struct {
	Purpose, Label string
	Known, Granted bool
}

type pageView struct {
	Error        string
	Saved        bool
	Action       string
	ExportAction string
	Expires      string
	Purposes     []purposeView
}

func (h *prefHandler) render(w http.ResponseWriter, status int, v pageView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := preferencePage.Execute(w, v); err != nil {
		h.log.Error("error rendering the preference page", "error", err)
	}
}

func (h *prefHandler) fail(w http.ResponseWriter, r *http.Request, err error, asJSON bool) {
	status, msg := http.StatusInternalServerError, "Something went wrong; please try again later."
	switch {
	case errors.Is(err, ErrToken):
		status, msg = http.StatusNotFound, "This link is invalid or has expired. Use the link in a recent message from us, or contact us."
	case errors.Is(err, ErrInvalidInput):
		status, msg = http.StatusBadRequest, err.Error()
	default:
		h.log.ErrorContext(r.Context(), "preference request failed", "error", err)
	}
	if asJSON {
		writeJSON(w, status, map[string]any{"error": msg})
		return
	}
	h.render(w, status, pageView{Error: msg})
}

func (h *prefHandler) view(token string, p *Preferences, saved bool) pageView {
	v := pageView{Saved: saved, Action: "/preferences/" + url.PathEscape(token),
		ExportAction: "/preferences/" + url.PathEscape(token) + "/export",
		Expires:      p.ExpiresAt.UTC().Format("2 January 2006")}
	for _, st := range p.Purposes {
		label := purposeLabels[st.Purpose]
		if label == "" {
			label = strings.ReplaceAll(st.Purpose, "_", " ")
		}
		pv := purposeView{Purpose: st.Purpose, Label: label, Known: st.Granted != nil}
		if st.Granted != nil {
			pv.Granted = *st.Granted
		}
		v.Purposes = append(v.Purposes, pv)
	}
	return v
}

func (h *prefHandler) page(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	p, err := h.s.Preferences(r.Context(), token)
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	h.render(w, http.StatusOK, h.view(token, p, r.URL.Query().Get("saved") == "1"))
}

func (h *prefHandler) pagePost(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	r.Body = http.MaxBytesReader(w, r.Body, maxPreferenceBody)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, ErrInvalidInput, false)
		return
	}
	granted, err := strconv.ParseBool(r.PostForm.Get("granted"))
	if err != nil {
		h.fail(w, r, invalid("granted must be true or false"), false)
		return
	}
	if _, err := h.s.SetPreference(r.Context(), token, r.PostForm.Get("purpose"), granted); err != nil {
		h.fail(w, r, err, false)
		return
	}
	// Post/redirect/get: a reload does not resubmit.
	http.Redirect(w, r, "/preferences/"+url.PathEscape(token)+"?saved=1", http.StatusSeeOther)
}

func (h *prefHandler) pageExport(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	tok, err := h.s.ExportForPreferences(ctx, r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	http.Redirect(w, r, "/v1/exports/"+url.PathEscape(tok), http.StatusSeeOther)
}

// preferencesJSON is the JSON form of a person's preferences.
type preferencesJSON struct {
	Purposes  []purposeJSON `json:"purposes"`
	ExpiresAt time.Time     `json:"expiresAt"`
}

type purposeJSON struct {
	Purpose    string     `json:"purpose"`
	Granted    *bool      `json:"granted"`
	RecordedAt *time.Time `json:"recordedAt"`
}

func toJSON(p *Preferences) preferencesJSON {
	out := preferencesJSON{ExpiresAt: p.ExpiresAt.UTC(), Purposes: []purposeJSON{}}
	for _, st := range p.Purposes {
		out.Purposes = append(out.Purposes, purposeJSON{Purpose: st.Purpose, Granted: st.Granted, RecordedAt: st.RecordedAt})
	}
	return out
}

func (h *prefHandler) jsonGet(w http.ResponseWriter, r *http.Request) {
	p, err := h.s.Preferences(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err, true)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(p))
}

func (h *prefHandler) jsonPost(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Purpose string `json:"purpose"`
		Granted *bool  `json:"granted"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPreferenceBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Granted == nil {
		h.fail(w, r, invalid(`the body must be {"purpose": "...", "granted": true|false}`), true)
		return
	}
	p, err := h.s.SetPreference(r.Context(), r.PathValue("token"), body.Purpose, *body.Granted)
	if err != nil {
		h.fail(w, r, err, true)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(p))
}

func (h *prefHandler) download(w http.ResponseWriter, r *http.Request) {
	doc, err := h.s.DownloadExport(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err, true)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="my-data.json"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
