package ingest

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/geoip"
	"github.com/cairn-cdp/cairn/internal/geoip/geoiptest"
)

// testGeoDB writes and opens a small country database: 81.2.69.0/24 in GB, 2a02:2e0::/29 in
// DE, the loopback network (test requests' peer) in NL.
func testGeoDB(t *testing.T) *geoip.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	require.NoError(t, geoiptest.Write(path, "geo-whois-asn-country", []geoiptest.Network{
		{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Record: map[string]any{"country_code": "GB"}},
		{Prefix: netip.MustParsePrefix("2a02:2e0::/29"), Record: map[string]any{"country_code": "DE"}},
		{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Record: map[string]any{"country_code": "NL"}},
	}))
	db, err := geoip.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestGeolocation: an event's address (sent, or the request's) is located before truncation:
// the event gets context.location, the profile the newest country as trait geoCountry, and the
// full address is stored nowhere.
func TestGeolocation(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{pipeline: &Options{Geo: testGeoDB(t)}})
	now := time.Now().UTC()
	post := func(id, ip string, ctx map[string]any, at time.Time) {
		t.Helper()
		if ctx == nil {
			ctx = map[string]any{}
		}
		if ip != "" {
			ctx["ip"] = ip
		}
		resp := b.post(t, "/v1/track", map[string]any{"userId": "geo-1", "event": "E", "messageId": id, "context": ctx,
			"timestamp": at.Format(time.RFC3339Nano)})
		require.Equal(t, 200, resp.status, resp.body)
	}
	stored := func(id string) map[string]any {
		var raw []byte
		require.NoError(t, b.db.QueryRow(`SELECT context FROM interactions WHERE message_id = $1`, id).Scan(&raw))
		out := map[string]any{}
		require.NoError(t, json.Unmarshal(raw, &out))
		return out
	}
	country := func() any { return b.traits(t, b.customerOf(t, "user_id", "geo-1"))[GeoCountryTrait] }

	post("gb", "81.2.69.160", nil, now.Add(-10*time.Second))
	ctx := stored("gb")
	require.Equal(t, map[string]any{"country": "GB"}, ctx["location"])
	require.Equal(t, "81.2.69.0", ctx["ip"])
	require.Equal(t, "GB", country())

	post("de", "2a02:2e0:3fe:1001:7777:7777:7777:7777", nil, now.Add(-5*time.Second))
	require.Equal(t, map[string]any{"country": "DE"}, stored("de")["location"])
	require.Equal(t, "2a02:2e0:3fe::", stored("de")["ip"])
	require.Equal(t, "DE", country(), "the newest event's country")

	post("old", "81.2.69.161", nil, now.Add(-48*time.Hour))
	require.Equal(t, "DE", country(), "an older event does not win")

	post("peer", "", nil, now)
	require.Equal(t, map[string]any{"country": "NL"}, stored("peer")["location"], "the request's address when none is sent")
	require.Equal(t, "NL", country())

	post("own", "81.2.69.162", map[string]any{"location": map[string]any{"city": "Leeds"}}, now.Add(time.Second))
	require.Equal(t, map[string]any{"city": "Leeds"}, stored("own")["location"], "a sent location is kept")
	require.Equal(t, "GB", country(), "the profile still gets the located country")

	post("nowhere", "10.1.2.3", nil, now.Add(2*time.Second))
	require.Nil(t, stored("nowhere")["location"], "an address the database does not know")
	require.Equal(t, "GB", country())

	for _, full := range []string{"81.2.69.16", "2a02:2e0:3fe:1001:7777", "127.0.0.1", "10.1.2.3"} {
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE context::text LIKE '%' || $1 || '%'`, full), full)
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM customers WHERE traits::text LIKE '%' || $1 || '%'`, full), full)
	}
}

func TestNoGeolocationWithoutDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp := b.post(t, "/v1/track", map[string]any{"userId": "u", "event": "E", "messageId": "m", "context": map[string]any{"ip": "81.2.69.160"}})
	require.Equal(t, 200, resp.status, resp.body)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM interactions WHERE context ? 'location'`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM customers WHERE traits ? 'geoCountry'`))
}
