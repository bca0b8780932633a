package campaign

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/campaign"
	"github.com/cairn-cdp/cairn/ent/destination"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
)

// Sealer encrypts secrets at rest (internal/secret implements it with AES-GCM under a key
// derived from CAIRN_SECRET_KEY).
type Sealer interface {
	Seal(plaintext []byte) (string, error)
	Open(sealed string) ([]byte, error)
}

// Opener builds a provider client from a destination's kind and its config with secrets
// opened (cmd wires internal/campaign/provider's constructor). It validates the config
// without network calls.
type Opener func(kind string, cfg map[string]any) (provider.Destination, error)

// secretKeys are the config keys of each kind that hold secrets; requiredKeys those a config
// must set (secret or not).
var (
	secretKeys = map[string][]string{
		"mailchimp": {"api_key"},
		"sendgrid":  {"api_key"},
		"webhook":   {"secret"},
	}
	requiredKeys = map[string][]string{
		"mailchimp": {"api_key", "list_id"},
		"sendgrid":  {"api_key", "list_id"},
		"webhook":   {"url", "secret"},
	}
)

// Stored config layout: plain settings at the top level, sealed secrets under storedSecrets
// and their masked hints under storedHints. Neither key may be set by a caller.
const (
	storedSecrets = "_sealed"
	storedHints   = "_hints"
)

// Destinations manages destinations. Sealer is required; Open may be nil (then configs are
// checked for required keys only and Test fails).
type Destinations struct {
	Sealer Sealer
	Open   Opener
}

// DestinationInput creates a destination.
type DestinationInput struct {
	Kind    string
	Name    string
	Config  map[string]any
	Enabled *bool
}

// DestinationUpdate changes a destination. Config keys given replace the stored ones (a
// secret given replaces the sealed one; a key set to null is removed); keys not given stay.
// Changing base_url or url drops the sealed secrets: the update must give them again.
type DestinationUpdate struct {
	Name    *string
	Config  map[string]any
	Enabled *bool
}

// SecretHint describes one secret of a destination without revealing it.
type SecretHint struct {
	Key        string
	Configured bool
	Hint       string // e.g. "…f3a9"
}

// Create validates and stores a destination, sealing its secrets.
func (d *Destinations) Create(ctx context.Context, client *ent.Client, in DestinationInput) (*ent.Destination, error) {
	if _, ok := secretKeys[in.Kind]; !ok {
		return nil, fmt.Errorf("%w: kind %q must be mailchimp, sendgrid or webhook", ErrInvalidInput, in.Kind)
	}
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	cfg, err := d.seal(in.Kind, map[string]any{}, in.Config)
	if err != nil {
		return nil, err
	}
	if err := d.check(in.Kind, cfg); err != nil {
		return nil, err
	}
	c := client.Destination.Create().SetKind(destination.Kind(in.Kind)).SetName(in.Name).SetConfig(cfg)
	if in.Enabled != nil {
		c.SetEnabled(*in.Enabled)
	}
	return c.Save(ctx)
}

// Update changes a destination's name, config or enabled flag.
func (d *Destinations) Update(ctx context.Context, client *ent.Client, id uuid.UUID, in DestinationUpdate) (*ent.Destination, error) {
	cur, err := client.Destination.Get(ctx, id)
	if err != nil {
		return nil, notFound(err, "destination", id)
	}
	u := client.Destination.UpdateOne(cur)
	if in.Name != nil {
		if err := checkName(*in.Name); err != nil {
			return nil, err
		}
		u.SetName(*in.Name)
	}
	if in.Config != nil {
		stored, err := rebind(string(cur.Kind), cur.Config, in.Config)
		if err != nil {
			return nil, err
		}
		cfg, err := d.seal(string(cur.Kind), stored, in.Config)
		if err != nil {
			return nil, err
		}
		if err := d.check(string(cur.Kind), cfg); err != nil {
			return nil, err
		}
		u.SetConfig(cfg)
	}
	if in.Enabled != nil {
		u.SetEnabled(*in.Enabled)
	}
	return u.Save(ctx)
}

// Delete removes a destination no campaign uses.
func (d *Destinations) Delete(ctx context.Context, client *ent.Client, id uuid.UUID) error {
	n, err := client.Campaign.Query().Where(campaign.DestinationID(id)).Count(ctx)
	if err != nil {
		return fmt.Errorf("error counting campaigns of destination: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: destination %s is used by %d campaign(s)", ErrConflict, id, n)
	}
	if err := client.Destination.DeleteOneID(id).Exec(ctx); err != nil {
		return notFound(err, "destination", id)
	}
	return nil
}

// Test makes the provider's harmless authenticated call with the destination's settings.
func (d *Destinations) Test(ctx context.Context, client *ent.Client, id uuid.UUID) error {
	dst, err := client.Destination.Get(ctx, id)
	if err != nil {
		return notFound(err, "destination", id)
	}
	p, err := d.Provider(dst)
	if err != nil {
		return err
	}
	return p.Test(ctx)
}

// Provider opens dst's secrets and builds its provider client.
func (d *Destinations) Provider(dst *ent.Destination) (provider.Destination, error) {
	if d.Open == nil {
		return nil, fmt.Errorf("no provider is configured for %s destinations", dst.Kind)
	}
	cfg, err := d.opened(dst.Config)
	if err != nil {
		return nil, err
	}
	return d.Open(string(dst.Kind), cfg)
}

// Settings returns a destination's config without its secrets.
func Settings(dst *ent.Destination) map[string]any {
	out := map[string]any{}
	for k, v := range dst.Config {
		if k != storedSecrets && k != storedHints {
			out[k] = v
		}
	}
	return out
}

// Secrets describes each secret of dst's kind: configured or not, and a masked hint.
func Secrets(dst *ent.Destination) []SecretHint {
	sealed, _ := dst.Config[storedSecrets].(map[string]any)
	hints, _ := dst.Config[storedHints].(map[string]any)
	var out []SecretHint
	for _, k := range secretKeys[string(dst.Kind)] {
		h, _ := hints[k].(string)
		_, ok := sealed[k]
		out = append(out, SecretHint{Key: k, Configured: ok, Hint: h})
	}
	return out
}

// seal merges in over stored, sealing secret keys. Values must be JSON scalars.
func (d *Destinations) seal(kind string, stored, in map[string]any) (map[string]any, error) {
	out := maps.Clone(stored)
	sealed := map[string]any{}
	hints := map[string]any{}
	if m, ok := stored[storedSecrets].(map[string]any); ok {
		maps.Copy(sealed, m)
	}
	if m, ok := stored[storedHints].(map[string]any); ok {
		maps.Copy(hints, m)
	}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := in[k]
		if k == storedSecrets || k == storedHints || k == "" || len(k) > 64 {
			return nil, fmt.Errorf("%w: config key %q is not allowed", ErrInvalidInput, k)
		}
		if v == nil {
			delete(out, k)
			delete(sealed, k)
			delete(hints, k)
			continue
		}
		switch v.(type) {
		case string, bool, float64, int, int64:
		default:
			return nil, fmt.Errorf("%w: config.%s must be a string, number or boolean", ErrInvalidInput, k)
		}
		if !slices.Contains(secretKeys[kind], k) {
			out[k] = v
			continue
		}
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("%w: config.%s must be a non-empty string", ErrInvalidInput, k)
		}
		if d.Sealer == nil {
			return nil, fmt.Errorf("cannot store secrets: no secret sealer is configured")
		}
		enc, err := d.Sealer.Seal([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("error sealing config.%s: %w", k, err)
		}
		sealed[k] = enc
		hints[k] = mask(s)
	}
	out[storedSecrets] = sealed
	out[storedHints] = hints
	return out, nil
}

// check verifies required keys and, when an Opener is set, that the provider accepts the
// config.
func (d *Destinations) check(kind string, cfg map[string]any) error {
	sealed, _ := cfg[storedSecrets].(map[string]any)
	for _, k := range requiredKeys[kind] {
		_, plain := cfg[k]
		_, secret := sealed[k]
		if !plain && !secret {
			return fmt.Errorf("%w: config.%s is required for %s", ErrInvalidInput, k, kind)
		}
	}
	if d.Open == nil {
		return nil
	}
	opened, err := d.opened(cfg)
	if err != nil {
		return err
	}
	if _, err := d.Open(kind, opened); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return nil
}

// opened returns cfg flat, with its secrets decrypted.
func (d *Destinations) opened(cfg map[string]any) (map[string]any, error) {
	out := Settings(&ent.Destination{Config: cfg})
	sealed, _ := cfg[storedSecrets].(map[string]any)
	for k, v := range sealed {
		s, _ := v.(string)
		if d.Sealer == nil {
			return nil, fmt.Errorf("cannot open secrets: no secret sealer is configured")
		}
		plain, err := d.Sealer.Open(s)
		if err != nil {
			return nil, fmt.Errorf("error opening config.%s (was CAIRN_SECRET_KEY changed?): %w", k, err)
		}
		out[k] = string(plain)
	}
	return out, nil
}

// mask shows the last four characters of a long secret, nothing of a short one.
func mask(s string) string {
	if len(s) < 12 {
		return "…"
	}
	return "…" + s[len(s)-4:]
}

func checkName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return fmt.Errorf("%w: name must be 1 to 200 characters", ErrInvalidInput)
	}
	return nil
}

func notFound(err error, what string, id uuid.UUID) error {
	if ent.IsNotFound(err) {
		return fmt.Errorf("%w: %s %s", ErrNotFound, what, id)
	}
	return err
}
