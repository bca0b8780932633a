package campaign

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDestinationSecretsAreSealed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const key = "0123456789abcdef0123-us6"
	d, err := b.dests.Create(b.ctx, b.client, DestinationInput{Kind: "mailchimp", Name: "Main list",
		Config: map[string]any{"api_key": key, "list_id": "L1"}})
	require.NoError(t, err)

	// Stored: no plaintext anywhere in the row's config.
	var raw string
	require.NoError(t, b.db.QueryRowContext(b.ctx, `SELECT config::text FROM destinations WHERE id = $1`, d.ID).Scan(&raw))
	require.NotContains(t, raw, key)
	require.Equal(t, map[string]any{"list_id": "L1"}, Settings(d))
	require.Equal(t, []SecretHint{{Key: "api_key", Configured: true, Hint: "…-us6"}}, Secrets(d))

	// The provider sees the opened secret.
	require.NoError(t, b.dests.Test(b.ctx, b.client, d.ID))
	require.Equal(t, key, b.opened[len(b.opened)-1]["api_key"])

	// Updating a setting keeps the secret; a new secret replaces it.
	d, err = b.dests.Update(b.ctx, b.client, d.ID, DestinationUpdate{Config: map[string]any{"list_id": "L2"}})
	require.NoError(t, err)
	require.NoError(t, b.dests.Test(b.ctx, b.client, d.ID))
	require.Equal(t, map[string]any{"api_key": key, "list_id": "L2"}, b.opened[len(b.opened)-1])
	d, err = b.dests.Update(b.ctx, b.client, d.ID, DestinationUpdate{Config: map[string]any{"api_key": "ffffffffffffffff-us1"}})
	require.NoError(t, err)
	require.Equal(t, "…-us1", Secrets(d)[0].Hint)
	js, err := json.Marshal(d)
	require.NoError(t, err)
	require.NotContains(t, string(js), "ffffffffffffffff")

	// A campaign using it blocks deletion.
	c := b.campaign(t, b.segment(t), nil)
	err = b.dests.Delete(b.ctx, b.client, c.DestinationID)
	require.ErrorIs(t, err, ErrConflict)
	require.NoError(t, b.dests.Delete(b.ctx, b.client, d.ID))
	require.ErrorIs(t, b.dests.Delete(b.ctx, b.client, d.ID), ErrNotFound)
}

func TestDestinationInputErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name string
		in   DestinationInput
	}{
		{"unknown kind", DestinationInput{Kind: "mailgun", Name: "x", Config: map[string]any{}}},
		{"empty name", DestinationInput{Kind: "webhook", Name: " ", Config: map[string]any{"url": "https://h.example", "secret": "s3cret-s3cret"}}},
		{"missing secret", DestinationInput{Kind: "webhook", Name: "x", Config: map[string]any{"url": "https://h.example"}}},
		{"missing list", DestinationInput{Kind: "sendgrid", Name: "x", Config: map[string]any{"api_key": "SG.abc"}}},
		{"reserved key", DestinationInput{Kind: "webhook", Name: "x", Config: map[string]any{"url": "u", "secret": "s", "_sealed": "x"}}},
		{"nested value", DestinationInput{Kind: "webhook", Name: "x", Config: map[string]any{"url": map[string]any{}, "secret": "s"}}},
		{"secret not a string", DestinationInput{Kind: "webhook", Name: "x", Config: map[string]any{"url": "u", "secret": 12.0}}},
		{"provider refuses", DestinationInput{Kind: "mailchimp", Name: "x", Config: map[string]any{"api_key": "k-us1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.dests.Create(b.ctx, b.client, tc.in)
			require.ErrorIs(t, err, ErrInvalidInput)
		})
	}
}
