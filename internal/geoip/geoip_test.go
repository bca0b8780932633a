package geoip

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/geoip/geoiptest"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	country := filepath.Join(dir, "country.mmdb")
	require.NoError(t, geoiptest.Write(country, "geo-whois-asn-country", []geoiptest.Network{
		{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Record: map[string]any{"country_code": "GB"}},
		{Prefix: netip.MustParsePrefix("2a02:2e0::/29"), Record: map[string]any{"country_code": "de"}},
	}))
	maxmind := filepath.Join(dir, "city.mmdb")
	require.NoError(t, geoiptest.Write(maxmind, "GeoLite2-City", []geoiptest.Network{
		{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Record: map[string]any{
			"country":      map[string]any{"iso_code": "GB", "geoname_id": uint32(2635167)},
			"subdivisions": []any{map[string]any{"iso_code": "ENG", "names": map[string]any{"en": "England"}}},
			"city":         map[string]any{"names": map[string]any{"en": "London", "de": "London"}},
			"location":     map[string]any{"latitude": 51.5142, "longitude": -0.0931},
		}},
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Record: map[string]any{"country_code": "FR", "state1": "Île-de-France", "city": "Paris"}},
	}))
	countryDB, err := Open(country)
	require.NoError(t, err)
	t.Cleanup(func() { countryDB.Close() })
	cityDB, err := Open(maxmind)
	require.NoError(t, err)
	t.Cleanup(func() { cityDB.Close() })
	require.Contains(t, countryDB.String(), "geo-whois-asn-country built")
	require.Contains(t, cityDB.String(), "cities")

	for _, tc := range []struct {
		name string
		db   *DB
		addr string
		want Location
		ok   bool
	}{
		{"country database", countryDB, "81.2.69.160", Location{Country: "GB"}, true},
		{"IPv6, code upper-cased", countryDB, "2a02:2e0:3fe:1001::1", Location{Country: "DE"}, true},
		{"IPv4-mapped", countryDB, "::ffff:81.2.69.1", Location{Country: "GB"}, true},
		{"unknown", countryDB, "10.0.0.1", Location{}, false},
		{"MaxMind city layout", cityDB, "81.2.69.7", Location{Country: "GB", Region: "England", City: "London"}, true},
		{"ip-location-db city layout", cityDB, "198.51.100.9", Location{Country: "FR", Region: "Île-de-France", City: "Paris"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for range 2 { // decoded, then cached
				got, ok := tc.db.Lookup(netip.MustParseAddr(tc.addr))
				require.Equal(t, tc.ok, ok)
				require.Equal(t, tc.want, got)
			}
		})
	}
}
