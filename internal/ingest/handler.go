package ingest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// Authenticator checks a write key. auth.Keys implements it and answers a key it accepted in the
// last auth.KeyCacheTTL from memory, so a busy client costs no key lookup per request.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (*auth.Principal, error)
}

// HandlerOptions tune the HTTP handler.
type HandlerOptions struct {
	Log *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed
	// (CAIRN_TRUSTED_PROXIES); a message without context.ip gets the client's address from it,
	// else from the connection's peer.
	TrustedProxies []netip.Prefix
}

// endpoints maps the path after /v1/ to the message type it accepts ("batch" for batches).
// The one-letter paths are the ones analytics.js (analytics-next) posts to.
var endpoints = map[string]string{
	"identify": wire.TypeIdentify, "track": wire.TypeTrack, "page": wire.TypePage, "screen": wire.TypeScreen,
	"group": wire.TypeGroup, "alias": wire.TypeAlias, "batch": "batch", "import": "batch",
	"i": wire.TypeIdentify, "t": wire.TypeTrack, "p": wire.TypePage, "s": wire.TypeScreen, "g": wire.TypeGroup, "a": wire.TypeAlias, "b": "batch",
}

// NewHandler serves the Segment-compatible tracking API on p: POST /v1/identify, /v1/track,
// /v1/page, /v1/screen, /v1/group, /v1/alias, /v1/batch and /v1/import, and GET
// /v1/pixel/<type> (pixel.go). The write key comes
// as the HTTP Basic username or as writeKey in the body and needs the ingest (or admin) scope.
// The 200 {"success":true} is sent only after the request's messages are committed. A batch's
// invalid messages are left out alone and listed in its 200 ("dropped"); a single message
// that is invalid gets a 400.
func NewHandler(p *Pipeline, keys Authenticator, opts *HandlerOptions) http.Handler {
	h := &handler{p: p, keys: keys, log: slog.Default()}
	if opts != nil && opts.Log != nil {
		h.log = opts.Log
	}
	if opts != nil {
		h.trusted = opts.TrustedProxies
	}
	return h
}

type handler struct {
	p       *Pipeline
	keys    Authenticator
	log     *slog.Logger
	trusted []netip.Prefix
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	name, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if pixel, isPixel := strings.CutPrefix(name, "pixel/"); ok && isPixel {
		if typ, known := pixelTypes[strings.TrimSuffix(pixel, "/")]; known {
			h.servePixel(w, r, typ)
			return
		}
	}
	typ, known := endpoints[strings.TrimSuffix(name, "/")]
	if !ok || !known {
		writeError(w, http.StatusNotFound, "", "no such endpoint; use /v1/identify, track, page, screen, group, alias, batch or import, or GET /v1/pixel/<type>")
		return
	}
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "", "use POST")
		return
	}

	// A Basic-auth key is checked before the body is read; a body key after decoding.
	var principal *auth.Principal
	if user, _, hasBasic := r.BasicAuth(); hasBasic {
		var status int
		if principal, status = h.authenticate(r.Context(), user); principal == nil {
			writeAuthError(w, status, "invalid write key: it must be an API key with the ingest scope")
			return
		}
	}

	body, status, err := readBody(r)
	if err != nil {
		writeError(w, status, "", err.Error())
		return
	}

	var b wire.Batch
	var writeKey string
	if typ == "batch" {
		b, err = wire.DecodeBatchItems(body)
		writeKey = b.WriteKey
	} else {
		var m wire.Message
		m, writeKey, err = wire.DecodeAs(body, typ)
		b.Messages = []wire.Message{m}
	}
	if principal == nil {
		if principal, status = h.authenticate(r.Context(), writeKey); principal == nil {
			writeAuthError(w, status, "a write key is required (HTTP Basic username or writeKey in the body), with the ingest scope")
			return
		}
	}
	for i := 0; err == nil && i < len(b.Dropped); i++ {
		if errors.Is(b.Dropped[i].Err, wire.ErrEventTooLarge) {
			err = b.Dropped[i].Err // the request is over a limit: 413, as Segment answers
		}
	}
	if err != nil {
		h.fail(w, err)
		return
	}

	ctx := withClientIP(auth.WithPrincipal(r.Context(), principal), clientIP(r, h.trusted))
	if typ != "batch" {
		if _, err := h.p.Submit(ctx, b.Messages, principal.Actor()); err != nil {
			h.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true}`)
		return
	}
	res, err := h.p.SubmitValid(ctx, b.Messages, principal.Actor())
	if err != nil {
		h.fail(w, err)
		return
	}
	writeBatchResult(w, h.p, &b, res.Invalid)
}

// writeBatchResult answers a stored batch: {"success":true}, with the items left out listed
// under "dropped" in the body's order (those the decoder dropped, then those the pipeline did,
// merged) and counted.
func writeBatchResult(w http.ResponseWriter, p *Pipeline, b *wire.Batch, invalid []InvalidMessage) {
	w.Header().Set("Content-Type", "application/json")
	if len(b.Dropped) == 0 && len(invalid) == 0 {
		_, _ = io.WriteString(w, `{"success":true}`)
		return
	}
	dropped := make([]droppedItem, 0, len(b.Dropped)+len(invalid))
	for _, d := range b.Dropped {
		p.countDropped(d.Err)
		dropped = append(dropped, droppedOf(d.Index, d.Err))
	}
	for _, inv := range invalid {
		pos := b.Position(inv.Index)
		err := wire.Prefixed(fmt.Sprintf("batch[%d]", pos), inv.Err)
		p.countDropped(err)
		dropped = append(dropped, droppedOf(pos, err))
	}
	slices.SortStableFunc(dropped, func(a, b droppedItem) int { return a.Index - b.Index })
	_ = json.NewEncoder(w).Encode(struct {
		Success bool          `json:"success"`
		Dropped []droppedItem `json:"dropped"`
	}{true, dropped})
}

// authenticate returns the principal of key if it may ingest, else nil and the status to send.
func (h *handler) authenticate(ctx context.Context, key string) (*auth.Principal, int) {
	if key == "" {
		return nil, http.StatusUnauthorized
	}
	p, err := h.keys.Authenticate(ctx, key)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return nil, http.StatusUnauthorized
	case err != nil:
		h.log.ErrorContext(ctx, "authenticating write key failed", "error", err)
		return nil, http.StatusServiceUnavailable
	case !p.Has(auth.ScopeIngest):
		return nil, http.StatusUnauthorized
	}
	return p, 0
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	var ve *wire.ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, ve.Field, ve.Error())
	case errors.Is(err, wire.ErrEventTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "", err.Error())
	case errors.Is(err, ErrClosed):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "", "the server is shutting down; retry")
	case errors.Is(err, ErrBusy):
		h.log.Warn("ingest request not committed: contention", "error", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "", "the messages were not stored because of concurrent updates to the same profiles; retry")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "", "the request was cancelled before its messages were committed; retry")
	default:
		h.log.Error("ingest request failed", "error", err)
		writeError(w, http.StatusInternalServerError, "", "internal error; the messages were not stored, retry")
	}
}

// readBody reads the (possibly gzip-encoded) body up to wire.MaxRequestBytes decoded.
func readBody(r *http.Request) ([]byte, int, error) {
	var src io.Reader = r.Body
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, wire.MaxRequestBytes+1))
		if err != nil {
			return nil, http.StatusBadRequest, errors.New("the body is not valid gzip")
		}
		defer zr.Close()
		src = zr
	case "", "identity":
	default:
		return nil, http.StatusUnsupportedMediaType, errors.New("unsupported Content-Encoding; use gzip or none")
	}
	body, err := io.ReadAll(io.LimitReader(src, wire.MaxRequestBytes+1))
	if err != nil {
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, http.StatusBadRequest, errors.New("the body is not valid gzip")
		}
		return nil, http.StatusBadRequest, fmt.Errorf("error reading the body: %w", err)
	}
	if len(body) > wire.MaxRequestBytes {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the request body is over %d bytes; send smaller batches", wire.MaxRequestBytes)
	}
	return body, 0, nil
}

// corsHeaders are the request headers browser SDKs send, allowed when a preflight does not say
// which it wants: analytics.js's Content-Type, Authorization and X-Retry-Count (on every resent
// event), and Content-Encoding for gzip.
const corsHeaders = "Content-Type, Authorization, Content-Encoding, X-Retry-Count"

// maxEchoedHeaders bounds the Access-Control-Request-Headers value echoed to a preflight.
const maxEchoedHeaders = 1024

// cors lets browsers post from any origin (analytics.js sends text/plain bodies with the key
// inside, or a Basic header). A preflight is allowed whatever headers it asks for, echoed back,
// so a header an SDK adds later is not silently blocked. Auth is by key, never by cookie: no
// Access-Control-Allow-Credentials.
func cors(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Add("Vary", "Origin")
	} else {
		hdr.Set("Access-Control-Allow-Origin", "*")
	}
	if r.Method != http.MethodOptions {
		return
	}
	hdr.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	allowed := corsHeaders
	if asked := strings.TrimSpace(r.Header.Get("Access-Control-Request-Headers")); asked != "" && len(asked) <= maxEchoedHeaders {
		allowed = asked
	}
	hdr.Add("Vary", "Access-Control-Request-Headers")
	hdr.Set("Access-Control-Allow-Headers", allowed)
	hdr.Set("Access-Control-Max-Age", "86400")
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"success": false, "error": msg}
	if field != "" {
		body["field"] = field
	}
	_ = json.NewEncoder(w).Encode(body)
}

// writeAuthError answers a failed key check: the key's fault (401), or a failed lookup (503),
// which must not tell a client with a good key that its key is bad.
func writeAuthError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
		writeError(w, status, "", "the server cannot check keys right now; retry")
		return
	}
	writeError(w, status, "writeKey", msg)
}
