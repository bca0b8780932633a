package ingest

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// maxFuture is how far past its receipt an event time may lie before it is taken as a broken
// client clock and replaced by the receipt time (a far-future time would otherwise win every
// later trait update).
const maxFuture = 24 * time.Hour

// Event names stored for page and screen calls.
const (
	PageViewed   = "Page Viewed"
	ScreenViewed = "Screen Viewed"
)

// prepared is a validated, normalised message ready for the writer.
type prepared struct {
	kind       string
	messageID  string
	event      string
	occurredAt time.Time
	receivedAt time.Time
	properties string // JSON, "" for none
	context    string // JSON
	revenue    string // numeric text, "" for none
	channel    string
	ids        []identity.Identifier
	previous   string         // alias: normalised previousId ("" when junk)
	traits     map[string]any // profile traits this message sets
	consents   []consentDecision
	country    string // ISO code of where the event came from ("" when unknown)
}

// arrival is what a message's request says about it.
type arrival struct {
	receivedAt time.Time
	ip         string // the client's address ("" when unknown), for a message without context.ip
}

// prepare validates and normalises m (received at receivedAt).
func (p *Pipeline) prepare(m *wire.Message, receivedAt time.Time) (*prepared, error) {
	return p.prepareArrived(m, arrival{receivedAt: receivedAt})
}

// prepareArrived validates and normalises m, which arrived as a says.
func (p *Pipeline) prepareArrived(m *wire.Message, a arrival) (*prepared, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	receivedAt := a.receivedAt
	out := &prepared{kind: m.Type, receivedAt: receivedAt}
	out.messageID = clean(m.MessageID)
	if out.messageID == "" {
		out.messageID = uuid.Must(uuid.NewV7()).String()
	}
	out.occurredAt = EventTime(m, receivedAt)

	var traits map[string]any // identify and group: the traits sent
	if m.Type == wire.TypeIdentify || m.Type == wire.TypeGroup {
		var err error
		if traits, err = decodeObject("traits", m.Traits); err != nil {
			return nil, err
		}
	}
	ctxText := wire.Object(m.Context)
	ctx, err := p.readContext(ctxText)
	if err != nil {
		return nil, err
	}
	if out.ids, err = p.identifiers(m, traits, ctx); err != nil {
		return nil, err
	}
	if m.Type == wire.TypeAlias {
		// A former userId or an anonymousId: the resolver decides which (user_id first).
		out.previous, _ = p.norm.Normalize(identity.TypeAnonymousID, m.PreviousID)
	}
	out.consents = p.consents(ctx.consent)
	out.channel = channelOf(m, ctx)
	if out.context, err = p.storeContext(ctxText, ctx); err != nil {
		return nil, err
	}
	var added []byte // members added to the stored context
	if client := clientTime(m); !client.IsZero() && !m.SentAt.IsZero() {
		// The event time was corrected for clock skew: the client's own is kept beside it.
		var ts [len(time.RFC3339Nano) + 2]byte
		added = appendMember(added, "originalTimestamp", append(client.UTC().AppendFormat(append(ts[:0], '"'), time.RFC3339Nano), '"'))
	}
	if p.opts.Geo != nil {
		added = p.locate(added, out, ctx, a)
	}
	if _, drop := p.dropContext["ip"]; !ctx.hasIP && a.ip != "" && !drop {
		// As Segment does for browser sources: the request's address, truncated as a sent one.
		ip := a.ip
		if !p.opts.KeepIP {
			ip = TruncateIP(ip)
		}
		if ip != "" {
			added = appendMember(added, "ip", appendJSONString(nil, ip))
		}
	}
	if added != nil {
		out.context = withRawMembers(out.context, added)
	}

	var props []byte         // the properties to store, as JSON text
	var built map[string]any // or as a map, for those built here
	switch m.Type {
	case wire.TypeTrack:
		out.event, props = clean(m.Event), wire.Object(m.Properties)
	case wire.TypePage, wire.TypeScreen:
		// One event name per kind (as Segment's warehouses' pages/screens tables have); the
		// page's own name and category stay filterable as properties.name and .category.
		out.event, props = PageViewed, wire.Object(m.Properties)
		if m.Type == wire.TypeScreen {
			out.event = ScreenViewed
		}
		named := map[string]any{}
		if name := clean(m.Name); name != "" {
			named["name"] = name
		}
		if category := clean(m.Category); category != "" {
			named["category"] = category
		}
		if len(named) > 0 {
			// The call's name and category win over properties' own.
			if props == nil || wire.Storable(props) {
				props = withMembers(props, named)
			} else {
				decoded, err := decodeObject("properties", props)
				if err != nil {
					return nil, err
				}
				props, built = nil, mergeShallow(named, decoded)
			}
		}
	case wire.TypeIdentify:
		props = wire.Object(m.Traits)
		out.traits, _ = stripNUL(traits).(map[string]any)
	case wire.TypeGroup:
		group := mergeShallow(traits, map[string]any{"id": m.GroupID})
		built = map[string]any{"groupId": m.GroupID, "traits": traits}
		out.traits, _ = stripNUL(map[string]any{"groupId": m.GroupID, "group": group}).(map[string]any)
	case wire.TypeAlias:
		built = map[string]any{"previousId": m.PreviousID}
	}
	if props != nil {
		if out.revenue, err = revenueIn(props); err != nil {
			return nil, err
		}
		if out.properties, err = storeObject("properties", props); err != nil {
			return nil, err
		}
	} else if built != nil {
		out.revenue = revenueOf(built)
		if out.properties, err = encodeJSON(built); err != nil {
			return nil, wire.Invalid("properties", "cannot be encoded: %s", err)
		}
	}
	return out, nil
}

// EventTime is when m happened. Its client's time t is originalTimestamp, else timestamp (both
// read the client's clock). With sentAt (the client's clock when it sent the message), t is
// corrected for the client's clock skew as Segment does: receivedAt − (sentAt − t), which
// keeps a deliberate historical t historical. Without sentAt it is t; without t, receivedAt. A
// time more than a day after receipt is replaced by the receipt time.
func EventTime(m *wire.Message, receivedAt time.Time) time.Time {
	t := clientTime(m)
	switch {
	case t.IsZero():
		t = receivedAt
	case !m.SentAt.IsZero():
		t = receivedAt.Add(-m.SentAt.Sub(t))
	}
	if t.Sub(receivedAt) > maxFuture {
		t = receivedAt
	}
	return t.UTC()
}

// clientTime is when m happened by its client's clock: originalTimestamp, else timestamp (zero
// for neither).
func clientTime(m *wire.Message) time.Time {
	if !m.OriginalTimestamp.IsZero() {
		return m.OriginalTimestamp
	}
	return m.Timestamp
}

// channelOf classifies where m came from: web, app, email or server.
func channelOf(m *wire.Message, ctx contextView) string {
	switch strings.ToLower(m.Channel) {
	case "browser", "web":
		return "web"
	case "mobile", "app":
		return "app"
	case "server":
		return "server"
	case "email":
		return "email"
	}
	if ctx.library != "" {
		name := strings.ToLower(ctx.library)
		switch {
		case strings.Contains(name, "analytics.js") || strings.Contains(name, "analytics-next") || strings.Contains(name, "browser"):
			return "web"
		case strings.Contains(name, "ios") || strings.Contains(name, "android") || strings.Contains(name, "react-native") ||
			strings.Contains(name, "flutter") || strings.Contains(name, "swift") || strings.Contains(name, "kotlin"):
			return "app"
		}
	}
	if ctx.userAgent && ctx.page {
		return "web"
	}
	return "server"
}

// clean makes s storable in a text column: valid UTF-8 without NULs, trimmed.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
}
