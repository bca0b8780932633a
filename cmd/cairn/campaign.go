package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/ingest"
	ingestwire "github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/secret"
)

// allowPrivateEnv lets destination URLs reach loopback and private addresses (self-hosted
// receivers, tests); off by default so a destination cannot be pointed at internal services.
const allowPrivateEnv = "CAIRN_DESTINATIONS_ALLOW_PRIVATE"

// campaignDestinations builds the destinations service serve and worker share: destination
// secrets sealed with a key derived from CAIRN_SECRET_KEY, and provider clients built from a
// destination's opened config. A secret key too short to derive from leaves the sealer unset:
// destinations are then refused with a clear error, and the start-up log says why.
func campaignDestinations(a *app.App) *campaign.Destinations {
	d := &campaign.Destinations{}
	box, err := secret.New(string(a.Config.SecretKey))
	if err != nil {
		a.Log.Warn("campaign destinations are disabled", "reason", err.Error())
	} else {
		d.Sealer = box
	}
	allowPrivate, _ := strconv.ParseBool(os.Getenv(allowPrivateEnv))
	d.Open = func(kind string, cfg map[string]any) (provider.Destination, error) {
		pc, err := providerConfig(kind, cfg)
		if err != nil {
			return nil, err
		}
		return provider.New(pc, provider.Options{AllowPrivate: allowPrivate})
	}
	return d
}

// providerConfig maps a destination's stored config keys (snake_case, as the GraphQL API takes
// them) onto the provider client's Config.
func providerConfig(kind string, cfg map[string]any) (provider.Config, error) {
	pc := provider.Config{Kind: kind}
	str := func(key string, dst *string) error {
		v, ok := cfg[key]
		if !ok || v == nil {
			return nil
		}
		s, ok := v.(string)
		if !ok {
			return &provider.ConfigError{Field: key, Reason: "must be a string"}
		}
		*dst = strings.TrimSpace(s)
		return nil
	}
	for key, dst := range map[string]*string{
		"api_key": &pc.APIKey, "list_id": &pc.ListID, "secret": &pc.Secret, "url": &pc.URL,
		"base_url": &pc.BaseURL, "audience_name": &pc.AudienceName,
	} {
		if err := str(key, dst); err != nil {
			return pc, err
		}
	}
	if v, ok := cfg["batch_size"]; ok && v != nil {
		n, err := strconv.ParseFloat(fmt.Sprint(v), 64)
		if err != nil || n != float64(int(n)) {
			return pc, &provider.ConfigError{Field: "batch_size", Reason: fmt.Sprintf("must be a whole number, not %v", v)}
		}
		pc.BatchSize = int(n)
	}
	if pc.AudienceName == "" {
		pc.AudienceName = "Cairn audience"
	}
	return pc, nil
}

// publicURLEnv is the URL recipients reach cairn serve at; the tracking merge fields (open
// pixel, click links) are built on it.
const publicURLEnv = "CAIRN_PUBLIC_URL"

// campaignTracking builds the tracking tokens' signer and base URL: nil (no tracking merge
// fields, /t/ not served) when CAIRN_PUBLIC_URL is unset or the secret key is unusable.
func campaignTracking(a *app.App) *campaign.Tracking {
	base := strings.TrimRight(strings.TrimSpace(os.Getenv(publicURLEnv)), "/")
	if base == "" {
		a.Log.Info("email open and click tracking is off", "reason", publicURLEnv+" is not set")
		return nil
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		a.Log.Warn("email open and click tracking is off", "reason", publicURLEnv+" must be an absolute http(s) URL")
		return nil
	}
	box, err := secret.New(string(a.Config.SecretKey))
	if err != nil {
		a.Log.Warn("email open and click tracking is off", "reason", err.Error())
		return nil
	}
	return &campaign.Tracking{Signer: box, BaseURL: base}
}

// trackingWorkers record opens and clicks after the answer (the pipeline group-commits them).
const trackingWorkers = 32

// emailTracking serves /t/ through the ingest pipeline, or nil when tracking is off.
func emailTracking(a *app.App, t *campaign.Tracking, pipe *ingest.Pipeline) *campaign.TrackingHandler {
	if t == nil {
		return nil
	}
	return &campaign.TrackingHandler{DB: a.DB, Tracking: t, Log: a.Log, Workers: trackingWorkers,
		Record: func(ctx context.Context, m ingestwire.Message) (bool, error) {
			res, err := pipe.Submit(ctx, []ingestwire.Message{m}, "email-tracking")
			return err == nil && res.Dropped == 0, err
		}}
}
