package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/pgarray"
)

// loadTraits reads traits of the existing profiles whose traits may change: roots with
// observations, and both sides of merges.
func (b *Batch) loadTraits(ctx context.Context) error {
	set := map[uuid.UUID]struct{}{}
	for _, p := range b.order {
		switch r := p.root(); {
		case p.isNew:
		case p.parent != nil:
			set[p.id], set[r.id] = struct{}{}, struct{}{} // r is older, so never new
		case len(p.obs) > 0:
			set[p.id] = struct{}{}
		}
	}
	ids := slices.Collect(maps.Keys(set))
	if len(ids) == 0 {
		return nil
	}
	rows, err := b.r.st.On(ctx, b.tx, "load-traits").QueryContext(ctx, pgarray.UUIDs(ids))
	if err != nil {
		return fmt.Errorf("error loading traits: %w", err)
	}
	defer rows.Close()
	// lockCustomers has locked these rows and checked that none was merged or deleted.
	for rows.Next() {
		var id uuid.UUID
		var traits, times []byte
		var email, phone string
		if err := rows.Scan(&id, &traits, &times, &email, &phone); err != nil {
			return fmt.Errorf("error reading traits: %w", err)
		}
		p := b.profiles[id]
		p.email, p.phone = email, phone
		p.traits, p.times = map[string]any{}, map[string]time.Time{}
		if err := json.Unmarshal(traits, &p.traits); err != nil {
			return fmt.Errorf("error decoding traits of %s: %w", id, err)
		}
		if err := json.Unmarshal(times, &p.times); err != nil {
			b.r.log.Warn("ignoring unreadable trait_times", "customer_id", id, "error", err)
			p.times = map[string]time.Time{}
		}
	}
	return rows.Err()
}

// mergeTraits merges p's traits into root per key, the later trait time winning (root keeps
// ties). It reports whether root changed.
func mergeTraits(root, p *profile) bool {
	if root.traits == nil {
		root.traits, root.times = map[string]any{}, map[string]time.Time{}
	}
	changed := false
	for k, v := range p.traits {
		t := p.times[k]
		if _, has := root.traits[k]; has && !t.After(root.times[k]) {
			continue // the survivor's value is as new or newer
		}
		root.traits[k], root.times[k] = v, t
		changed = true
	}
	return changed
}

// applyObservations applies r's trait observations (per key last-write-wins by event time,
// ties to the later message) and derives email and phone. It reports whether traits changed.
func (b *Batch) applyObservations(r *profile) bool {
	if len(r.obs) == 0 {
		return false
	}
	if r.traits == nil {
		r.traits, r.times = map[string]any{}, map[string]time.Time{}
	}
	changed := false
	for _, o := range r.obs {
		for k, v := range o.traits {
			if cur, ok := r.times[k]; ok && o.at.Before(cur) {
				continue
			}
			r.traits[k], r.times[k] = v, o.at.UTC()
			changed = true
		}
	}
	if changed {
		if s, ok := r.traits["email"].(string); ok {
			if v, err := b.r.norm.Normalize(TypeEmail, s); err == nil {
				r.email = v
			}
		}
		if s, ok := r.traits["phone"].(string); ok {
			if v, err := b.r.norm.Normalize(TypePhone, s); err == nil {
				r.phone = v
			}
		}
	}
	return changed
}

func encodeTraits(p *profile) (string, string, error) {
	traits, err := json.Marshal(p.traits)
	if err != nil {
		return "", "", fmt.Errorf("error encoding traits: %w", err)
	}
	times, err := json.Marshal(p.times)
	if err != nil {
		return "", "", fmt.Errorf("error encoding trait times: %w", err)
	}
	return string(traits), string(times), nil
}
