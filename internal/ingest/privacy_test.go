package ingest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

func TestConsentDeniedDropsLaterEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	deny := map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Analytics": false, "Advertising": true}}}
	res := b.submit(t,
		wire.Message{Type: wire.TypeTrack, Event: "Before", AnonymousID: "a"},
		wire.Message{Type: wire.TypeTrack, Event: "Deny", AnonymousID: "a", Context: obj(deny)},
	)
	require.Equal(t, Result{Stored: 1, Dropped: 1}, res)
	cust := b.customerOf(t, "anonymous_id", "a")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'analytics' AND NOT granted`, cust))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'email_marketing' AND granted`, cust))

	// Later events of that person are dropped, through any of their identifiers.
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "After", AnonymousID: "a", UserID: "u"})
	require.Equal(t, Result{Dropped: 1}, res)
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "After", UserID: "u"})
	require.Equal(t, Result{Dropped: 1}, res)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM interactions`))

	// Granting again resumes collection.
	grant := map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"analytics": true}}}
	res = b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Granted", UserID: "u", Context: obj(grant)})
	require.Equal(t, Result{Stored: 1}, res)
}

// TestConfiguredConsentPurposes: a purpose map replaces the defaults (app.IngestOptions merges
// CAIRN_CONSENT_PURPOSES over them): unmapped categories are not recorded, and mapped ones are
// recorded under the configured purpose.
func TestConfiguredConsentPurposes(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{ConsentPurposes: map[string]string{CategoryKey("Ad Targeting"): "ads"}}})
	prefs := map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Analytics": false, "ad_targeting": true}}}
	res := b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "Prefs", AnonymousID: "a", Context: obj(prefs)})
	require.Equal(t, Result{Stored: 1}, res, "Analytics is not mapped here, so its denial drops nothing")
	cust := b.customerOf(t, "anonymous_id", "a")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1 AND purpose = 'ads' AND granted`, cust))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1`, cust))
}

func TestKeepIP(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{KeepIP: true, DropContext: []string{"userAgent"}}})
	b.submit(t, wire.Message{Type: wire.TypeTrack, Event: "E", AnonymousID: "a", MessageID: "ip", Context: obj(map[string]any{"ip": "203.0.113.77", "userAgent": "Mozilla"})})
	var ip string
	require.NoError(t, b.db.QueryRow(`SELECT coalesce(context->>'ip', ''), coalesce(context->>'userAgent', 'dropped') FROM interactions WHERE message_id = 'ip'`).Scan(&ip, new(string)))
	require.Equal(t, "203.0.113.77", ip)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE context ? 'userAgent'`))
}
