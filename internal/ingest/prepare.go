package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
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
func (p *Pipeline) prepare(m *wire.Message, receivedAt time.Time) (*prepared, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
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

// contextView is what prepare reads of a message's context.
type contextView struct {
	ip          string // ip, when a string
	hasIP       bool
	library     string // library.name
	userAgent   bool   // has a userAgent
	page        bool   // has a page
	deviceID    string // device.id
	externalIDs []any  // externalIds
	traits      map[string]any
	consent     map[string]any
	dropped     bool // it holds a member configured to be dropped
}

// readContext reads the members of ctx (a JSON object, or nil) that prepare needs, decoding
// only those (decoding every context into a map, and json.Unmarshal on the few members, were
// each a sizeable part of ingest's CPU). Keys are matched exactly, the last of duplicates
// winning, as in a decoded map. The members configured to be dropped are not read, except
// for identifiers (device.id, externalIds, traits), which are read from the context as sent.
func (p *Pipeline) readContext(ctx []byte) (contextView, error) {
	var v contextView
	if ctx == nil {
		return v, nil
	}
	err := wire.EachMember(ctx, func(key, value []byte) error {
		_, drop := p.dropContext[string(key)]
		v.dropped = v.dropped || drop
		var err error
		switch string(key) {
		case "ip":
			v.ip, v.hasIP = "", false
			if value[0] == '"' {
				v.ip, err = wire.Unquote(value)
				v.hasIP = err == nil
			}
		case "library":
			v.library = ""
			if !drop && value[0] == '{' {
				v.library, err = stringMember(value, "name")
			}
		case "userAgent":
			v.userAgent = !drop
		case "page":
			v.page = !drop
		case "device":
			v.deviceID = ""
			if value[0] == '{' {
				v.deviceID, err = stringMember(value, "id")
			}
		case "externalIds":
			v.externalIDs = nil
			if value[0] == '[' {
				err = json.Unmarshal(value, &v.externalIDs)
			}
		case "traits":
			v.traits = nil
			if value[0] == '{' {
				err = json.Unmarshal(value, &v.traits)
			}
		case "consent":
			v.consent = nil
			if !drop && value[0] == '{' {
				err = json.Unmarshal(value, &v.consent)
			}
		}
		if err != nil {
			return wire.Invalid("context."+string(key), "cannot be decoded: %s", err)
		}
		return nil
	})
	if errors.Is(err, wire.ErrNotObject) {
		err = wire.Invalid("context", "must be a JSON object")
	}
	return v, err
}

// stringMember returns the string value of obj's member key ("" when absent or not a string).
func stringMember(obj []byte, key string) (string, error) {
	var out string
	err := wire.EachMember(obj, func(k, value []byte) error {
		if string(k) != key {
			return nil
		}
		out = ""
		if value[0] == '"' {
			s, err := wire.Unquote(value)
			if err != nil {
				return err
			}
			out = s
		}
		return nil
	})
	return out, err
}

// storeContext returns the context to store (ctx as sent, or "{}" for none): minimised, which
// takes editing the text when the ip is truncated, and decoding and re-encoding it when a
// member is dropped or the text is not storable as is.
func (p *Pipeline) storeContext(ctx []byte, v contextView) (string, error) {
	if ctx == nil {
		return "{}", nil
	}
	if !v.dropped && wire.Storable(ctx) {
		if !v.hasIP || p.opts.KeepIP {
			return string(ctx), nil
		}
		switch t := TruncateIP(v.ip); {
		case t == v.ip:
			return string(ctx), nil
		case t != "":
			if out := replaceIP(string(ctx), v.ip, t); out != "" {
				return out, nil
			}
		}
	}
	decoded, err := decodeObject("context", ctx)
	if err != nil {
		return "", err
	}
	out, err := encodeJSON(p.minimise(decoded))
	if err != nil {
		return "", wire.Invalid("context", "cannot be encoded: %s", err)
	}
	return out, nil
}

// storeObject returns obj (a JSON object) as it can be stored in a jsonb column: as sent when
// it can be, else decoded and re-encoded.
func storeObject(field string, obj []byte) (string, error) {
	if wire.Storable(obj) {
		return string(obj), nil
	}
	decoded, err := decodeObject(field, obj)
	if err != nil {
		return "", err
	}
	out, err := encodeJSON(decoded)
	if err != nil {
		return "", wire.Invalid(field, "cannot be encoded: %s", err)
	}
	return out, nil
}

// decodeObject decodes the JSON object text (nil for none) of the message's field.
func decodeObject(field string, text []byte) (map[string]any, error) {
	text = wire.Object(text)
	if text == nil {
		return nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(text, &out); err != nil {
		return nil, wire.Invalid(field, "cannot be decoded: %s", err)
	}
	return out, nil
}

// revenueIn is revenueOf for properties as JSON text, decoding only the members it reads.
func revenueIn(props []byte) (string, error) {
	var found map[string]any
	err := wire.EachMember(props, func(key, value []byte) error {
		if k := string(key); k == "revenue" || k == "total" {
			var x any
			if err := json.Unmarshal(value, &x); err != nil {
				return wire.Invalid("properties."+k, "cannot be decoded: %s", err)
			}
			if found == nil {
				found = map[string]any{}
			}
			found[k] = x
		}
		return nil
	})
	if errors.Is(err, wire.ErrNotObject) {
		err = wire.Invalid("properties", "must be a JSON object")
	}
	if err != nil {
		return "", err
	}
	return revenueOf(found), nil
}

// withMembers returns the JSON object obj (nil for none) with the members of add (strings)
// appended, in key order. A key obj already has then appears twice: jsonb keeps the last, as
// eachMember and encoding/json do, so add's win.
func withMembers(obj []byte, add map[string]any) []byte {
	out := make([]byte, 0, len(obj)+64)
	if wire.EmptyObject(obj) {
		out = append(out, '{')
	} else {
		out = append(out, obj[:len(obj)-1]...)
		out = append(out, ',')
	}
	first := true
	for _, k := range slices.Sorted(maps.Keys(add)) {
		v, ok := add[k].(string)
		if !ok {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = appendJSONString(out, v)
	}
	if first {
		return obj
	}
	return append(out, '}')
}

// appendJSONString appends s as a JSON string in its minimal form (RFC 8785). Unlike
// json.Marshal it leaves <, > and & as they are: escaped as \u003c and so on, the object would
// no longer be storable as is, and a page named "Terms & Conditions" would be decoded and
// re-encoded for nothing. Invalid UTF-8 becomes U+FFFD, as json.Marshal makes it.
func appendJSONString(dst []byte, s string) []byte {
	out, _ := jsontext.AppendQuote(dst, s) // the error only reports invalid UTF-8, replaced
	return out
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
func EventTime(m *wire.Message, receivedAt time.Time) time.Time {
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
func (p *Pipeline) identifiers(m *wire.Message, traits map[string]any, ctx contextView) ([]identity.Identifier, error) {
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
		return nil, wire.Invalid(field, "is not a usable identifier (empty or a junk value such as \"null\" or \"undefined\"); userId or anonymousId is required")
	}
	if m.Type == wire.TypeIdentify {
		addTraitIDs(add, traits)
	}
	addTraitIDs(add, ctx.traits)
	add(identity.TypeDeviceID, ctx.deviceID)
	for _, e := range ctx.externalIDs {
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

// minimise returns a copy of context without the configured members and with ip truncated.
func (p *Pipeline) minimise(ctx map[string]any) map[string]any {
	out := make(map[string]any, len(ctx))
	for k, v := range ctx {
		if _, drop := p.dropContext[k]; !drop {
			out[k] = v
		}
	}
	if sent, ok := out["ip"].(string); ok && !p.opts.KeepIP {
		out["ip"] = TruncateIP(sent)
	}
	return out
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
func (p *Pipeline) consents(consent map[string]any) []consentDecision {
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

// mergeShallow returns own with the keys of shared it lacks.
func mergeShallow(own, shared map[string]any) map[string]any {
	if len(shared) == 0 {
		return own
	}
	out := make(map[string]any, len(own)+len(shared))
	for k, v := range shared {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
