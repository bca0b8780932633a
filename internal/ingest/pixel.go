package ingest

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// pixelTypes are the message types GET /v1/pixel/<type> accepts.
var pixelTypes = map[string]string{
	"track": wire.TypeTrack, "page": wire.TypePage, "identify": wire.TypeIdentify,
	"screen": wire.TypeScreen, "group": wire.TypeGroup, "alias": wire.TypeAlias,
}

// transparentGIF is a 1×1 transparent GIF.
var transparentGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// servePixel is Segment's Pixel API, for e-mails and pages where no script runs:
// GET /v1/pixel/<type>?data=<base64 of the JSON message, writeKey included>. It stores the
// message as POST /v1/<type> would, and always answers the GIF (an image must not break):
// data that is invalid or carries no valid write key stores nothing and is counted in
// cairn_ingest_dropped_events_total (reasons invalid_<field>, too_large, unauthorized, failed).
func (h *handler) servePixel(w http.ResponseWriter, r *http.Request, typ string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "", "use GET")
		return
	}
	if err := h.storePixel(r, typ); err != nil {
		reason := dropReason(err)
		switch {
		case errors.Is(err, errPixelUnauthorized):
			reason = "unauthorized"
		case errors.Is(err, errPixelFailed):
			reason = "failed"
		}
		h.p.m.dropped.WithLabelValues(reason).Inc()
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "image/gif")
	hdr.Set("Cache-Control", "no-store, max-age=0")
	hdr.Set("Content-Length", strconv.Itoa(len(transparentGIF)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(transparentGIF)
	}
}

var (
	errPixelUnauthorized = errors.New("pixel: no valid write key")
	errPixelFailed       = errors.New("pixel: not committed")
)

// storePixel decodes, authenticates and stores a pixel's message.
func (h *handler) storePixel(r *http.Request, typ string) error {
	body, err := pixelData(r.URL.Query().Get("data"))
	if err != nil {
		return err
	}
	m, writeKey, err := wire.DecodeAs(body, typ)
	if err != nil {
		return err
	}
	if user, _, ok := r.BasicAuth(); ok && writeKey == "" {
		writeKey = user
	}
	principal, _ := h.authenticate(r.Context(), writeKey)
	if principal == nil {
		return errPixelUnauthorized
	}
	ctx := withClientIP(auth.WithPrincipal(r.Context(), principal), clientIP(r, h.trusted))
	if _, err := h.p.Submit(ctx, []wire.Message{m}, principal.Actor()); err != nil {
		var ve *wire.ValidationError
		if errors.As(err, &ve) {
			return err
		}
		h.log.WarnContext(r.Context(), "pixel message not stored", "error", err)
		return errPixelFailed
	}
	return nil
}

// pixelData decodes a pixel's data parameter: base64, standard or URL-safe, padded or not. A
// standard '+' that reached the query unescaped reads as a space, and is taken back.
func pixelData(data string) ([]byte, error) {
	data = strings.TrimRight(strings.ReplaceAll(strings.TrimSpace(data), " ", "+"), "=")
	if data == "" {
		return nil, wire.Invalid("data", "is required: the base64 of the JSON message")
	}
	if base64.RawStdEncoding.DecodedLen(len(data)) > wire.MaxEventBytes {
		return nil, wire.ErrEventTooLarge
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(data, "-_") {
		enc = base64.RawURLEncoding
	}
	body, err := enc.DecodeString(data)
	if err != nil {
		return nil, wire.Invalid("data", "is not base64")
	}
	return body, nil
}
