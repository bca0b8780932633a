package campaign

import (
	"fmt"
	"maps"
	"reflect"
)

// endpointKeys are the config keys that name the host a destination's secrets are sent to
// (Mailchimp's and SendGrid's base_url, a webhook's url).
var endpointKeys = []string{"base_url", "url"}

// rebind returns stored ready for an update by in. Sealed secrets are bound to the endpoint
// they were given with: when in changes an endpoint key (a new value or its removal), the
// stored secrets are dropped and in must give every secret of kind again, so a caller who
// cannot read a secret cannot redirect it to another host.
func rebind(kind string, stored, in map[string]any) (map[string]any, error) {
	changed := ""
	for _, k := range endpointKeys {
		v, given := in[k]
		if !given {
			continue
		}
		old, had := stored[k]
		if v == nil && !had {
			continue
		}
		if v == nil || !had || !reflect.DeepEqual(old, v) {
			changed = k
			break
		}
	}
	if changed == "" {
		return stored, nil
	}
	for _, k := range secretKeys[kind] {
		if v, ok := in[k]; !ok || v == nil {
			return nil, fmt.Errorf("%w: changing %s requires %s again", ErrInvalidInput, changed, k)
		}
	}
	out := maps.Clone(stored)
	delete(out, storedSecrets)
	delete(out, storedHints)
	return out, nil
}
