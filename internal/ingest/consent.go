package ingest

import (
	"strings"
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

type consentDecision struct {
	purpose  string
	granted  bool
	category string
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
