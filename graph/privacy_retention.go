package graph

import (
	"github.com/cairn-cdp/cairn/graph/model"
	"github.com/cairn-cdp/cairn/internal/privacy"
)

// retention returns the retention service on the resolver's database.
func (r *Resolver) retention() *privacy.Retention {
	return privacy.NewRetention(r.DB, &privacy.RetentionOptions{Log: r.Log})
}

func isTrue(b *bool) bool { return b != nil && *b }

// privacySettings converts the transparency report to its GraphQL model.
func privacySettings(s *privacy.Settings) *model.PrivacySettings {
	out := &model.PrivacySettings{
		IPTruncated:          s.IPTruncated,
		DroppedContextFields: s.DroppedContext,
		RetentionPolicies:    s.Policies,
		Anonymization: &model.RetentionAnonymization{
			Columns: s.AnonymizedColumns, Properties: s.AnonymizedProperties, Context: s.AnonymizedContext,
		},
		SuppressionCount: s.Suppressed,
		ConsentPurposes:  make([]*model.ConsentPurposeMapping, len(s.ConsentPurposes)),
	}
	if s.IPTruncated {
		v4, v6 := s.IPv4PrefixBits, s.IPv6PrefixBits
		out.Ipv4PrefixBits, out.Ipv6PrefixBits = &v4, &v6
	}
	for i, c := range s.ConsentPurposes {
		out.ConsentPurposes[i] = &model.ConsentPurposeMapping{Category: c.Category, Purpose: c.Purpose}
	}
	return out
}
