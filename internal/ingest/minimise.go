package ingest

import (
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

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
