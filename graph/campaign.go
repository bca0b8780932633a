package graph

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph/model"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/queue"
)

// CampaignSyncs enqueues a campaign's sync (jobs.CampaignJobs).
type CampaignSyncs interface {
	RunSync(ctx context.Context, campaignID uuid.UUID) (*queue.Job, error)
}

func (r *Resolver) destinations() *campaign.Destinations {
	if r.Destinations == nil {
		return &campaign.Destinations{}
	}
	return r.Destinations
}

// stringMap converts a GraphQL Map of merge fields to strings; nil stays nil.
func stringMap(m map[string]any, what string) (map[string]string, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, badInput("%s.%s must be a string", what, k)
		}
		out[k] = s
	}
	return out, nil
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func destinationConfigured(d *ent.Destination) bool {
	for _, s := range campaign.Secrets(d) {
		if !s.Configured {
			return false
		}
	}
	return true
}

func errString(err error) *string {
	if err == nil {
		return nil
	}
	s := fmt.Sprint(err)
	return &s
}

func campaignStats(s campaign.Stats) *model.CampaignStats {
	return &model.CampaignStats{Audience: s.Audience, Synced: s.Synced, UniqueOpens: s.UniqueOpens,
		MachineOpens: s.MachineOpens, UniqueClicks: s.UniqueClicks, OpenRate: s.OpenRate(), Ctr: s.CTR(),
		Conversions: s.Conversions, ConversionRate: s.ConversionRate(), Revenue: s.Revenue,
		UnlinkedOpens: s.UnlinkedOpens, UnlinkedMachineOpens: s.UnlinkedMachineOpens, UnlinkedClicks: s.UnlinkedClicks}
}
