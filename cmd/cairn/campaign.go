package main

import (
	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/internal/campaign"
)

// campaignDestinations builds the destinations service serve and worker share: the sealer of
// destination secrets (keyed by CAIRN_SECRET_KEY) and the provider constructor. Until
// internal/secret and the provider clients are wired here, destinations cannot store secrets
// and syncs fail with "no provider is configured".
func campaignDestinations(a *app.App) *campaign.Destinations {
	_ = a
	return &campaign.Destinations{}
}
