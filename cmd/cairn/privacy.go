package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/secret"
)

// openPrivacy builds the privacy service (consents, erasure, export, suppression list) keyed by
// CAIRN_SECRET_KEY; sched enqueues its jobs (nil: none), dest reaches the campaign destinations
// (campaign.Privacy; nil: none), reg receives its metrics (nil: none).
func openPrivacy(a *app.App, sched privacy.Scheduler, dest privacy.Destinations, reg prometheus.Registerer) (*privacy.Service, error) {
	box, err := secret.New(string(a.Config.SecretKey))
	if err != nil {
		return nil, err
	}
	idCfg, err := app.FromEnv().IdentityConfig()
	if err != nil {
		return nil, err
	}
	svc, err := privacy.New(privacy.Config{DB: a.DB, Box: box, Scheduler: sched, Destinations: dest,
		Normalize: identity.NewNormalizer(idCfg).Normalize, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("error setting up privacy: %w", err)
	}
	return svc, nil
}

// runSuppressions loads the suppression list, then keeps this process's mirror of it fresh
// (entries added or lifted by other processes) until ctx ends.
func runSuppressions(ctx context.Context, s *privacy.Suppressions, log *slog.Logger) error {
	if err := s.Refresh(ctx); err != nil {
		return err
	}
	go s.Run(ctx, privacy.DefaultRefreshEvery, func(err error) {
		log.Warn("error refreshing the suppression list", "error", err)
	})
	return nil
}

// importSuppressions loads the suppression list once, for `cairn import`.
func importSuppressions(ctx context.Context, a *app.App) (*privacy.Suppressions, error) {
	box, err := secret.New(string(a.Config.SecretKey))
	if err != nil {
		return nil, err
	}
	s := privacy.NewSuppressions(a.DB, box)
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}
