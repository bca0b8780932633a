package graph

import (
	"errors"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph/model"
	"github.com/cairn-cdp/cairn/internal/rfm"
)

var errNoJobs = errors.New("jobs cannot be enqueued by this server")

// rfmFromCustomer is Customer.rfm: the stored values, nil without RFM.
func rfmFromCustomer(c *ent.Customer) *model.Rfm {
	v := rfm.FromCustomer(c)
	if v == nil {
		return nil
	}
	return &model.Rfm{
		Recency:        v.Recency,
		Frequency:      v.Frequency,
		Monetary:       v.Monetary,
		RecencyScore:   v.RecencyScore,
		FrequencyScore: v.FrequencyScore,
		MonetaryScore:  v.MonetaryScore,
		Score:          v.Score,
		Label:          v.Label,
		ComputedAt:     v.ComputedAt,
	}
}

// rfmSummary converts rfm.Summary to its GraphQL model.
func rfmSummary(s *rfm.Summary) *model.RFMSummary {
	out := &model.RFMSummary{
		Grid:       make([]*model.RFMCell, 0, len(s.Grid)),
		Labels:     make([]*model.RFMLabelCount, 0, len(s.Labels)),
		Scored:     s.Scored,
		ComputedAt: s.ComputedAt,
	}
	for _, c := range s.Grid {
		out.Grid = append(out.Grid, &model.RFMCell{RecencyScore: c.RecencyScore, FrequencyScore: c.FrequencyScore, Count: c.Count})
	}
	for _, l := range s.Labels {
		out.Labels = append(out.Labels, &model.RFMLabelCount{Label: l.Label, Count: l.Count})
	}
	return out
}
