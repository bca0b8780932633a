package ingest

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

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
