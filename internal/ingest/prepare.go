package ingest

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/identity"
)

// DefaultConsentPurposes maps Segment consent categories (context.consent.categoryPreferences
// keys, compared case-insensitively without spaces, dashes or underscores) to Cairn's consent
// purposes. Categories not listed are ignored.
var DefaultConsentPurposes = map[string]string{
	"analytics":       "analytics",
	"advertising":     "email_marketing",
	"marketing":       "email_marketing",
	"emailmarketing":  "email_marketing",
	"email":           "email_marketing",
	"smsmarketing":    "sms_marketing",
	"sms":             "sms_marketing",
	"personalization": "personalization",
	"personalisation": "personalization",
	"functional":      "personalization",
}

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
}

type consentDecision struct {
	purpose  string
	granted  bool
	category string
}

// prepare validates and normalises m (received at receivedAt).
func (p *Pipeline) prepare(m *Message, receivedAt time.Time) (*prepared, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	out := &prepared{kind: m.Type, receivedAt: receivedAt}
	out.messageID = clean(m.MessageID)
	if out.messageID == "" {
		out.messageID = uuid.Must(uuid.NewV7()).String()
	}
	out.occurredAt = EventTime(m, receivedAt)

	var err error
	if out.ids, err = p.identifiers(m); err != nil {
		return nil, err
	}
	if m.Type == TypeAlias {
		// A former userId or an anonymousId: the resolver decides which (user_id first).
		out.previous, _ = p.norm.Normalize(identity.TypeAnonymousID, m.PreviousID)
	}

	ctx, dropped, ip := p.minimise(m.Context)
	out.consents = p.consents(ctx)
	out.channel = channelOf(m, ctx)

	var props map[string]any
	var rawProps string // props' JSON as sent, when it needs no change
	switch m.Type {
	case TypeTrack:
		out.event, props = clean(m.Event), m.Properties
		rawProps = rawFor(m.Properties, m.raw.properties, m.raw.propertiesOf, m.raw.propertiesLen)
	case TypePage, TypeScreen:
		// One event name per kind (as Segment's warehouses' pages/screens tables have); the
		// page's own name and category stay filterable as properties.name and .category.
		out.event, props = PageViewed, m.Properties
		if m.Type == TypeScreen {
			out.event = ScreenViewed
		}
		named := map[string]any{}
		if name := clean(m.Name); name != "" {
			named["name"] = name
		}
		if category := clean(m.Category); category != "" {
			named["category"] = category
		}
		rawProps = rawFor(m.Properties, m.raw.properties, m.raw.propertiesOf, m.raw.propertiesLen)
		if len(named) > 0 {
			props = mergeShallow(named, props) // the call's name and category win over properties'
			rawProps = withMembers(rawProps, len(m.Properties) == 0, named)
		}
	case TypeIdentify:
		props = m.Traits
		rawProps = rawFor(m.Traits, m.raw.traits, m.raw.traitsOf, m.raw.traitsLen)
		out.traits, _ = stripNUL(m.Traits).(map[string]any)
	case TypeGroup:
		group := mergeShallow(m.Traits, map[string]any{"id": m.GroupID})
		props = map[string]any{"groupId": m.GroupID, "traits": m.Traits}
		out.traits, _ = stripNUL(map[string]any{"groupId": m.GroupID, "group": group}).(map[string]any)
	case TypeAlias:
		props = map[string]any{"previousId": m.PreviousID}
	}
	out.revenue = revenueOf(props)
	switch {
	case rawProps != "":
		out.properties = rawProps
	case props != nil:
		if out.properties, err = encodeJSON(props); err != nil {
			return nil, invalid("properties", "cannot be encoded: %s", err)
		}
	}
	rawCtx := rawFor(m.Context, m.raw.context, m.raw.contextOf, m.raw.contextLen)
	if sent, _ := m.Context["ip"].(string); rawCtx != "" && !dropped && ip != "" {
		rawCtx = replaceIP(rawCtx, sent, ip)
	}
	if rawCtx != "" && !dropped {
		out.context = rawCtx
	} else if out.context, err = encodeJSON(ctx); err != nil {
		return nil, invalid("context", "cannot be encoded: %s", err)
	}
	return out, nil
}

// withMembers returns the JSON object raw with the string members of add appended ("" when
// raw is ""). A key raw already has then appears twice: jsonb keeps the last, so add's win.
func withMembers(raw string, empty bool, add map[string]any) string {
	if raw == "" {
		return ""
	}
	out := make([]byte, 0, len(raw)+64)
	if empty {
		out = append(out, '{')
	} else {
		out = append(out, raw[:len(raw)-1]...)
		out = append(out, ',')
	}
	first := true
	for _, k := range []string{"name", "category"} {
		v, ok := add[k].(string)
		if !ok {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		out = append(out, '"')
		out = append(out, k...)
		out = append(out, '"', ':')
		out = append(out, b...)
	}
	if first {
		return raw
	}
	return string(append(out, '}'))
}

// replaceIP returns the context object raw with its top-level ip value from replaced by to,
// or "" when that cannot be done with certainty on the text: "ip" must occur exactly once
// (then it is the top-level key, which the decoded map has) and be followed by from, plainly
// written.
func replaceIP(raw, from, to string) string {
	const key = `"ip"`
	if strings.Count(raw, key) != 1 {
		return ""
	}
	for _, c := range []byte(from) {
		if c == '"' || c == '\\' || c < ' ' {
			return ""
		}
	}
	i := strings.Index(raw, key) + len(key)
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	if i >= len(raw) || raw[i] != ':' {
		return ""
	}
	i++
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	val := `"` + from + `"`
	if !strings.HasPrefix(raw[i:], val) {
		return ""
	}
	enc, err := json.Marshal(to)
	if err != nil {
		return ""
	}
	return raw[:i] + string(enc) + raw[i+len(val):]
}

// EventTime is when m happened: its timestamp; or, without one, the receipt time corrected by
// the client's clock skew, receivedAt − (sentAt − originalTimestamp), as Segment computes it;
// or originalTimestamp; or receivedAt. A time more than a day after receipt is replaced by the
// receipt time.
func EventTime(m *Message, receivedAt time.Time) time.Time {
	t := m.Timestamp
	switch {
	case !t.IsZero():
	case !m.OriginalTimestamp.IsZero() && !m.SentAt.IsZero():
		t = receivedAt.Add(-m.SentAt.Sub(m.OriginalTimestamp))
	case !m.OriginalTimestamp.IsZero():
		t = m.OriginalTimestamp
	default:
		t = receivedAt
	}
	if t.Sub(receivedAt) > maxFuture {
		t = receivedAt
	}
	return t.UTC()
}

// identifiers extracts m's normalised identifiers, dropping junk values. A message whose
// userId and anonymousId are both junk identifies no one and is refused.
func (p *Pipeline) identifiers(m *Message) ([]identity.Identifier, error) {
	var ids []identity.Identifier
	add := func(typ, value string) bool {
		if strings.TrimSpace(value) == "" {
			return false
		}
		v, err := p.norm.Normalize(typ, value)
		if err != nil {
			return false
		}
		ids = append(ids, identity.Identifier{Type: typ, Value: v})
		return true
	}
	okUser := add(identity.TypeUserID, m.UserID)
	okAnon := add(identity.TypeAnonymousID, m.AnonymousID)
	if !okUser && !okAnon {
		field := "userId"
		if strings.TrimSpace(m.UserID) == "" {
			field = "anonymousId"
		}
		return nil, invalid(field, "is not a usable identifier (empty or a junk value such as \"null\" or \"undefined\"); userId or anonymousId is required")
	}
	if m.Type == TypeIdentify {
		addTraitIDs(add, m.Traits)
	}
	if traits, ok := m.Context["traits"].(map[string]any); ok {
		addTraitIDs(add, traits)
	}
	if device, ok := m.Context["device"].(map[string]any); ok {
		if id, ok := device["id"].(string); ok {
			add(identity.TypeDeviceID, id)
		}
	}
	if ext, ok := m.Context["externalIds"].([]any); ok {
		for _, e := range ext {
			obj, ok := e.(map[string]any)
			if !ok {
				continue
			}
			typ, _ := obj["type"].(string)
			id := stringish(obj["id"])
			typ = strings.ToLower(strings.TrimSpace(typ))
			if typ != "" && id != "" {
				add(identity.ExternalPrefix+typ, id)
			}
		}
	}
	return ids, nil
}

func addTraitIDs(add func(typ, value string) bool, traits map[string]any) {
	if email, ok := traits["email"].(string); ok {
		add(identity.TypeEmail, email)
	}
	if phone := stringish(traits["phone"]); phone != "" {
		add(identity.TypePhone, phone)
	}
}

func stringish(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	}
	return ""
}

// minimise returns a copy of context without the configured fields and with ip truncated,
// whether it dropped a field, and the truncated ip when it differs from the one sent ("" when
// ip is unchanged; "" is also what an ip that does not parse becomes, reported as dropped).
func (p *Pipeline) minimise(ctx map[string]any) (out map[string]any, dropped bool, ip string) {
	out = make(map[string]any, len(ctx))
	for k, v := range ctx {
		if _, drop := p.dropContext[k]; !drop {
			out[k] = v
		} else {
			dropped = true
		}
	}
	if sent, ok := out["ip"].(string); ok && !p.opts.KeepIP {
		t := TruncateIP(sent)
		out["ip"] = t
		if t == "" && sent != "" {
			dropped = true // re-encoded rather than spliced
		} else if t != sent {
			ip = t
		}
	}
	return out, dropped, ip
}

// TruncateIP keeps the network part of an address: IPv4 /24 ("203.0.113.7" → "203.0.113.0"),
// IPv6 /48. What does not parse as an address is dropped ("").
func TruncateIP(s string) string {
	addr, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	addr = addr.Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	prefix, err := addr.WithZone("").Prefix(bits)
	if err != nil {
		return ""
	}
	return prefix.Addr().String()
}

// consents reads context.consent.categoryPreferences into decisions per purpose; several
// categories mapping to one purpose grant it only if all do.
func (p *Pipeline) consents(ctx map[string]any) []consentDecision {
	consent, ok := ctx["consent"].(map[string]any)
	if !ok {
		return nil
	}
	prefs, ok := consent["categoryPreferences"].(map[string]any)
	if !ok {
		return nil
	}
	var out []consentDecision
	for category, v := range prefs {
		granted, ok := v.(bool)
		if !ok {
			continue
		}
		purpose, ok := p.purposes[CategoryKey(category)]
		if !ok {
			continue
		}
		found := false
		for i := range out {
			if out[i].purpose == purpose {
				out[i].granted = out[i].granted && granted
				found = true
			}
		}
		if !found {
			out = append(out, consentDecision{purpose: purpose, granted: granted, category: category})
		}
	}
	return out
}

// CategoryKey is how consent categories are compared: lower-cased, without spaces, '_' or '-'
// ("Email Marketing", "email_marketing" and "emailMarketing" are one category).
func CategoryKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r != ' ' && r != '_' && r != '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// channelOf classifies where m came from: web, app, email or server.
func channelOf(m *Message, ctx map[string]any) string {
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
	if lib, ok := ctx["library"].(map[string]any); ok {
		name, _ := lib["name"].(string)
		name = strings.ToLower(name)
		switch {
		case strings.Contains(name, "analytics.js") || strings.Contains(name, "analytics-next") || strings.Contains(name, "browser"):
			return "web"
		case strings.Contains(name, "ios") || strings.Contains(name, "android") || strings.Contains(name, "react-native") ||
			strings.Contains(name, "flutter") || strings.Contains(name, "swift") || strings.Contains(name, "kotlin"):
			return "app"
		}
	}
	if _, ok := ctx["userAgent"]; ok {
		if _, page := ctx["page"]; page {
			return "web"
		}
	}
	return "server"
}

// revenueOf reads properties.revenue, else properties.total, as numeric text ("" when absent,
// not a number, or beyond the column's numeric(18,4) range).
func revenueOf(props map[string]any) string {
	for _, k := range []string{"revenue", "total"} {
		var f float64
		switch v := props[k].(type) {
		case float64:
			f = v
		case string:
			var err error
			if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				continue
			}
		default:
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 1e14 {
			continue
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return ""
}

// encodeJSON encodes v for a jsonb column, which refuses the NUL character: NULs are removed
// from keys and strings.
func encodeJSON(v map[string]any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if bytes.Contains(b, []byte(`\u0000`)) {
		if b, err = json.Marshal(stripNUL(v)); err != nil {
			return "", err
		}
	}
	return string(b), nil
}

func stripNUL(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "")
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.ReplaceAll(k, "\x00", "")] = stripNUL(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = stripNUL(x)
		}
		return out
	}
	return v
}

// clean makes s storable in a text column: valid UTF-8 without NULs, trimmed.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
}
