package privacy

import (
	"context"
	"slices"
	"sort"

	"github.com/cairn-cdp/cairn/ent"
)

// Collection is what ingest collects and drops, as configured (cmd builds it from the ingest
// options): the facts privacySettings publishes next to the retention policies.
type Collection struct {
	// KeepIP is true when context.ip is stored as sent (CAIRN_KEEP_IP); otherwise IPv4 keeps /24
	// and IPv6 /48.
	KeepIP bool
	// DroppedContext are the top-level context members never stored (CAIRN_DROP_CONTEXT).
	DroppedContext []string
	// ConsentPurposes maps consent categories to purposes (CAIRN_CONSENT_PURPOSES over the
	// defaults).
	ConsentPurposes map[string]string
}

// SuppressionCounter reports how many identifiers are on the suppression list (the erasure
// side's *Suppressions implements it).
type SuppressionCounter interface {
	Len() int
}

// Settings is the transparency report: what Cairn collects and keeps.
type Settings struct {
	IPTruncated bool
	// IPv4PrefixBits and IPv6PrefixBits are the prefix lengths kept; 0 when IPs are kept whole.
	IPv4PrefixBits, IPv6PrefixBits int
	DroppedContext                 []string
	// ConsentPurposes lists category → purpose, by category.
	ConsentPurposes []ConsentPurpose
	Policies        []*ent.RetentionPolicy
	// AnonymizedColumns, AnonymizedProperties and AnonymizedContext are what anonymize keeps.
	AnonymizedColumns, AnonymizedProperties, AnonymizedContext []string
	// Suppressed is the suppression list's size; nil when no counter is wired.
	Suppressed *int
}

// ConsentPurpose is one consent category and the purpose it is recorded as.
type ConsentPurpose struct{ Category, Purpose string }

// Settings assembles the transparency report from c, the retention policies and, when not nil,
// the suppression counter.
func (r *Retention) Settings(ctx context.Context, c Collection, sup SuppressionCounter) (*Settings, error) {
	policies, err := r.Policies(ctx)
	if err != nil {
		return nil, err
	}
	s := &Settings{
		IPTruncated:          !c.KeepIP,
		DroppedContext:       slices.Sorted(slices.Values(c.DroppedContext)),
		Policies:             policies,
		AnonymizedColumns:    slices.Clone(AnonymizedColumns),
		AnonymizedProperties: slices.Clone(AnonymizedProperties),
		AnonymizedContext:    slices.Clone(AnonymizedContext),
	}
	if s.DroppedContext == nil {
		s.DroppedContext = []string{}
	}
	if !c.KeepIP {
		s.IPv4PrefixBits, s.IPv6PrefixBits = 24, 48
	}
	s.ConsentPurposes = make([]ConsentPurpose, 0, len(c.ConsentPurposes))
	for cat, p := range c.ConsentPurposes {
		s.ConsentPurposes = append(s.ConsentPurposes, ConsentPurpose{Category: cat, Purpose: p})
	}
	sort.Slice(s.ConsentPurposes, func(i, j int) bool { return s.ConsentPurposes[i].Category < s.ConsentPurposes[j].Category })
	if sup != nil {
		n := sup.Len()
		s.Suppressed = &n
	}
	return s, nil
}
