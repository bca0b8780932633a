package campaign

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDestinationEndpointChangeNeedsSecretsAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const key = "0123456789abcdef0123-us6"
	tests := []struct {
		name    string
		kind    string
		create  map[string]any
		update  map[string]any
		wantErr string // empty: accepted
		want    map[string]any
	}{
		{"new base_url alone", "sendgrid",
			map[string]any{"api_key": key, "list_id": "L1"},
			map[string]any{"base_url": "https://evil.example"},
			"changing base_url requires api_key again", nil},
		{"base_url replaced alone", "mailchimp",
			map[string]any{"api_key": key, "list_id": "L1", "base_url": "https://us6.api.mailchimp.com"},
			map[string]any{"base_url": "https://evil.example", "list_id": "L2"},
			"changing base_url requires api_key again", nil},
		{"base_url removed alone", "mailchimp",
			map[string]any{"api_key": key, "list_id": "L1", "base_url": "https://mc.example"},
			map[string]any{"base_url": nil},
			"changing base_url requires api_key again", nil},
		{"webhook url alone", "webhook",
			map[string]any{"url": "https://hooks.example/in", "secret": "s3cret-s3cret"},
			map[string]any{"url": "https://evil.example/in"},
			"changing url requires secret again", nil},
		{"base_url with api_key", "sendgrid",
			map[string]any{"api_key": key, "list_id": "L1"},
			map[string]any{"base_url": "https://sg.example", "api_key": "SG.new-key-0000"},
			"", map[string]any{"api_key": "SG.new-key-0000", "list_id": "L1", "base_url": "https://sg.example"}},
		{"webhook url with secret", "webhook",
			map[string]any{"url": "https://hooks.example/in", "secret": "s3cret-s3cret"},
			map[string]any{"url": "https://hooks2.example/in", "secret": "n3w-s3cret"},
			"", map[string]any{"url": "https://hooks2.example/in", "secret": "n3w-s3cret"}},
		{"same base_url keeps the key", "sendgrid",
			map[string]any{"api_key": key, "list_id": "L1", "base_url": "https://sg.example"},
			map[string]any{"base_url": "https://sg.example", "list_id": "L2"},
			"", map[string]any{"api_key": key, "list_id": "L2", "base_url": "https://sg.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := b.dests.Create(b.ctx, b.client, DestinationInput{Kind: tc.kind, Name: tc.name, Config: tc.create})
			require.NoError(t, err)
			got, err := b.dests.Update(b.ctx, b.client, d.ID, DestinationUpdate{Config: tc.update})
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidInput)
				require.ErrorContains(t, err, tc.wantErr)
				after, err := b.client.Destination.Get(b.ctx, d.ID)
				require.NoError(t, err)
				require.Equal(t, d.Config, after.Config)
				return
			}
			require.NoError(t, err)
			opened, err := b.dests.opened(got.Config)
			require.NoError(t, err)
			require.Equal(t, tc.want, opened)
		})
	}
}
