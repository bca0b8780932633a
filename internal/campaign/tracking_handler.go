package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// Events the tracking endpoints record (channel email).
const (
	EventOpened  = "Email Opened"
	EventClicked = "Email Link Clicked"
)

// RecordFunc stores one tracking message through the ingest path (ingest.Pipeline.Submit) and
// reports whether it was stored; false means the ingest path dropped it (the person denied
// analytics consent), and the event is then counted only in aggregate.
type RecordFunc func(ctx context.Context, m wire.Message) (stored bool, err error)

// TrackingHandler serves GET /t/o/{token}.gif (a 1×1 GIF) and GET /t/c/{token}?u=…&l=… (a 302
// to the signed target), recording Email Opened and Email Link Clicked. A bad token or link
// signature gets 400 with no Location. Recording errors are logged and do not fail the
// response: the reader's click still lands.
//
// With Workers > 0 the response goes out as soon as the token is checked and the event is
// recorded by one of Workers goroutines from a queue of QueueSize; when the queue is full the
// request records it itself (backpressure, nothing dropped). Close drains the queue: call it
// after the HTTP server stopped and before the ingest pipeline closes. Events queued when the
// process dies are lost, as a pixel already served cannot be asked again; Workers 0 records
// before answering.
type TrackingHandler struct {
	DB        *sql.DB
	Tracking  *Tracking
	Record    RecordFunc
	Log       *slog.Logger
	Workers   int
	QueueSize int // default 4,096

	start, stop sync.Once
	queue       chan trackedEvent
	wg          sync.WaitGroup
	// mu guards closed: a request still in flight when Close runs (a drain timeout) records
	// its event itself instead of sending on the closed queue.
	mu     sync.RWMutex
	closed bool
}

// trackedEvent is one open or click to record.
type trackedEvent struct {
	ctx                    context.Context
	event, ua, target      string
	campaignID, customerID uuid.UUID
}

// Close stops the workers once every queued event is recorded; later calls do nothing. No
// request may be served after Close.
func (h *TrackingHandler) Close() {
	h.init()
	h.stop.Do(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.closed = true
		if h.queue != nil {
			close(h.queue)
		}
	})
	h.wg.Wait()
}

func (h *TrackingHandler) init() {
	h.start.Do(func() {
		if h.Workers <= 0 {
			return
		}
		n := h.QueueSize
		if n <= 0 {
			n = 4096
		}
		h.queue = make(chan trackedEvent, n)
		for range h.Workers {
			h.wg.Go(func() {
				for ev := range h.queue {
					h.recordEvent(ev)
				}
			})
		}
	})
}

// gif is a transparent 1×1 GIF.
var gif = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

func (h *TrackingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/t/o/"):
		h.open(w, r, strings.TrimPrefix(r.URL.Path, "/t/o/"))
	case strings.HasPrefix(r.URL.Path, "/t/c/"):
		h.click(w, r, strings.TrimPrefix(r.URL.Path, "/t/c/"))
	default:
		http.NotFound(w, r)
	}
}

func (h *TrackingHandler) open(w http.ResponseWriter, r *http.Request, rest string) {
	tok, ok := strings.CutSuffix(rest, ".gif")
	if !ok {
		http.Error(w, "bad tracking token", http.StatusBadRequest)
		return
	}
	campaignID, customerID, err := h.Tracking.ParseToken(tok)
	if err != nil {
		http.Error(w, "bad tracking token", http.StatusBadRequest)
		return
	}
	h.record(r, EventOpened, campaignID, customerID, "")
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Content-Length", fmt.Sprint(len(gif)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(gif)
	}
}

func (h *TrackingHandler) click(w http.ResponseWriter, r *http.Request, tok string) {
	campaignID, customerID, err := h.Tracking.ParseToken(tok)
	q := r.URL.Query()
	target := q.Get("u")
	if err != nil || h.Tracking.CheckLink(campaignID, target, q.Get("l")) != nil {
		http.Error(w, "bad tracking link", http.StatusBadRequest)
		return
	}
	h.record(r, EventClicked, campaignID, customerID, target)
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// record stores the event linked to the customer when their email_tracking consent allows,
// else counts it in aggregate.
func (h *TrackingHandler) record(r *http.Request, event string, campaignID, customerID uuid.UUID, target string) {
	ev := trackedEvent{ctx: r.Context(), event: event, ua: r.UserAgent(), target: target, campaignID: campaignID, customerID: customerID}
	if h.enqueue(ev) {
		return
	}
	h.recordEvent(ev)
}

// enqueue hands ev to the workers unless the queue is full or closed.
func (h *TrackingHandler) enqueue(ev trackedEvent) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.queue == nil || h.closed {
		return false
	}
	queued := ev
	queued.ctx = context.WithoutCancel(ev.ctx)
	select {
	case h.queue <- queued:
		return true
	default: // full: record in the request
		return false
	}
}

func (h *TrackingHandler) recordEvent(ev trackedEvent) {
	ctx, event, campaignID, customerID, target := ev.ctx, ev.event, ev.campaignID, ev.customerID, ev.target
	machine := MachineAgent(ev.ua)
	kind := "open"
	if event == EventClicked {
		kind = "click"
	}
	if err := h.recordLinked(ctx, ev.ua, event, campaignID, customerID, target, machine); err != nil {
		if !errors.Is(err, errUntracked) {
			h.log().ErrorContext(ctx, "tracking event not recorded", "event", event, "campaign", campaignID, "error", err)
			return
		}
		if _, err := h.DB.ExecContext(ctx, queries["count-untracked"], campaignID, kind, machine); err != nil {
			h.log().ErrorContext(ctx, "tracking count not recorded", "event", event, "campaign", campaignID, "error", err)
		}
	}
}

// errUntracked: the event may not be linked to the person (consent denied, person erased, or
// dropped by the ingest path).
var errUntracked = errors.New("untracked")

func (h *TrackingHandler) recordLinked(ctx context.Context, ua, event string, campaignID, customerID uuid.UUID, target string, machine bool) error {
	var (
		id                    uuid.UUID
		email, userID, anonID string
		allowed               bool
	)
	err := h.DB.QueryRowContext(ctx, queries["tracking-person"], customerID).Scan(&id, &email, &userID, &anonID, &allowed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errUntracked
	case err != nil:
		return fmt.Errorf("error reading tracked person: %w", err)
	case !allowed:
		return errUntracked
	}
	props := map[string]any{"campaign_id": campaignID.String(), "machine": machine}
	if target != "" {
		props["url"] = target
	}
	cx := map[string]any{}
	if ua != "" {
		cx["userAgent"] = ua
	}
	m := wire.Message{Type: wire.TypeTrack, Event: event, Channel: "email", UserID: userID, AnonymousID: anonID}
	if userID == "" && anonID == "" {
		if email == "" {
			return errUntracked // no identifier resolves to them any more
		}
		// Only an email: a stable anonymous id of the customer, resolved to them by the email.
		m.AnonymousID = "cairn:" + id.String()
	}
	if email != "" {
		cx["traits"] = map[string]any{"email": email}
	}
	if m.Properties, err = json.Marshal(props); err != nil {
		return err
	}
	if m.Context, err = json.Marshal(cx); err != nil {
		return err
	}
	stored, err := h.Record(ctx, m)
	if err != nil {
		return err
	}
	if !stored {
		return errUntracked
	}
	return nil
}

func (h *TrackingHandler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
