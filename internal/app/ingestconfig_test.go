package app

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/geoip/geoiptest"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
)

func TestIdentityConfigFromEnv(t *testing.T) {
	t.Parallel()
	cfg, err := Config{}.IdentityConfig()
	require.NoError(t, err)
	require.Equal(t, identity.DefaultConfig(), cfg, "nothing set: the defaults")

	cfg, err = Config{IdentityLimits: " email=3 , *=7,external:CRM=2,user_id=1", IdentityBlocklist: "Nobody@Example.com, ,tbd", PhoneRegion: "gb"}.IdentityConfig()
	require.NoError(t, err)
	require.Equal(t, 3, cfg.Limit("email"))
	require.Equal(t, 2, cfg.Limit("external:crm"), "external types are lower-cased, as ingest stores them")
	require.Equal(t, 1, cfg.Limit("user_id"), "user_id keeps its default of 1")
	require.Equal(t, 7, cfg.Limit("device_id"), "* sets the default")
	require.Contains(t, cfg.Blocklist, "nobody@example.com")
	require.Contains(t, cfg.Blocklist, "tbd")
	require.Contains(t, cfg.Blocklist, "null", "the defaults stay")
	require.Equal(t, "GB", cfg.PhoneRegion)

	norm := identity.NewNormalizer(cfg)
	_, err = norm.Normalize("email", " NOBODY@example.com ")
	require.ErrorIs(t, err, identity.ErrJunk, "a configured junk value never identifies anyone")
	phone, err := norm.Normalize("phone", "020 7946 0958")
	require.NoError(t, err)
	require.Equal(t, "+442079460958", phone, "numbers without a country code are read in the configured region")

	for _, bad := range []Config{
		{IdentityLimits: "email"},
		{IdentityLimits: "email=0"},
		{IdentityLimits: "email=x"},
		{IdentityLimits: "emails=2"},
		{IdentityLimits: "external:=2"},
		{IdentityLimits: "user_id=2"},
		{IdentityLimits: "external:" + strings.Repeat("x", 60) + "=2"},
		{PhoneRegion: "GBR"},
		{PhoneRegion: "UK"},
	} {
		t.Run(fmt.Sprintf("%+v", bad), func(t *testing.T) {
			t.Parallel()
			_, err := bad.IdentityConfig()
			require.Error(t, err, "%+v", bad)
			require.Regexp(t, `CAIRN_(IDENTITY_LIMITS|PHONE_REGION)`, err.Error(), "the error names the setting")
		})
	}
}

func TestIngestOptionsFromEnv(t *testing.T) {
	t.Parallel()
	o, err := Config{KeepIP: true, IngestWriters: "2"}.IngestOptions()
	require.NoError(t, err)
	require.True(t, o.KeepIP)
	require.Equal(t, 2, o.Writers)
	require.Nil(t, o.ConsentPurposes, "nothing set: the pipeline's defaults")
	require.Empty(t, o.DropContext)

	o, err = Config{ConsentPurposes: "Ad Targeting=ads, Advertising=-, Analytics=product_analytics", DropContext: "userAgent, locale"}.IngestOptions()
	require.NoError(t, err)
	require.Equal(t, "ads", o.ConsentPurposes[ingest.CategoryKey("ad_targeting")])
	require.Equal(t, "product_analytics", o.ConsentPurposes["analytics"])
	require.NotContains(t, o.ConsentPurposes, "advertising", "- ignores a category")
	require.Equal(t, "email_marketing", o.ConsentPurposes["marketing"], "other defaults stay")
	require.Equal(t, "email_marketing", ingest.DefaultConsentPurposes["advertising"], "the defaults themselves are not modified")
	require.Equal(t, []string{"userAgent", "locale"}, o.DropContext)

	for _, bad := range []Config{
		{ConsentPurposes: "Analytics"},
		{ConsentPurposes: "=analytics"},
		{ConsentPurposes: "Analytics=Product Analytics"},
		{DropContext: "user agent"},
		{DropContext: "userAgent,consent"},
	} {
		t.Run(fmt.Sprintf("%+v", bad), func(t *testing.T) {
			t.Parallel()
			_, err := bad.IngestOptions()
			require.Error(t, err, "%+v", bad)
			require.Regexp(t, `CAIRN_(CONSENT_PURPOSES|DROP_CONTEXT)`, err.Error(), "the error names the setting")
		})
	}
	for _, bad := range []string{"abc", "0", "-3", "100000", "2.5"} {
		t.Run("writers "+bad, func(t *testing.T) {
			t.Parallel()
			_, err := Config{IngestWriters: bad}.IngestOptions()
			require.ErrorContains(t, err, "CAIRN_INGEST_WRITERS", bad)
		})
	}
}

func TestTrackingOptionsFromEnv(t *testing.T) {
	t.Parallel()
	o, err := Config{}.TrackingOptions()
	require.NoError(t, err)
	require.Empty(t, o.TrustedProxies, "no proxy trusted by default")

	o, err = Config{TrustedProxies: " 10.0.0.0/8, 192.168.1.7 ,fd00::/8,"}.TrackingOptions()
	require.NoError(t, err)
	require.Len(t, o.TrustedProxies, 3)
	require.Equal(t, "192.168.1.7/32", o.TrustedProxies[1].String())

	for _, bad := range []string{"10.0.0.0/40", "proxy.internal", "10.0.0.1-10.0.0.9"} {
		_, err := Config{TrustedProxies: bad}.TrackingOptions()
		require.ErrorContains(t, err, "CAIRN_TRUSTED_PROXIES", bad)
	}
}

func TestOpenGeoIP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, status, err := Config{DataDir: dir}.OpenGeoIP()
	require.NoError(t, err)
	require.Nil(t, db, "no database installed: off")
	require.Contains(t, status, "geolocation off: no database at "+filepath.Join(dir, GeoIPFile))

	require.NoError(t, os.MkdirAll(filepath.Join(dir, "geoip"), 0o700))
	require.NoError(t, geoiptest.Write(filepath.Join(dir, GeoIPFile), "geo-whois-asn-country", []geoiptest.Network{
		{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Record: map[string]any{"country_code": "GB"}},
	}))
	db, status, err = Config{DataDir: dir}.OpenGeoIP()
	require.NoError(t, err)
	require.NotNil(t, db, "the installed database is the default")
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	require.Contains(t, status, "geolocation on: geo-whois-asn-country")
	loc, ok := db.Lookup(netip.MustParseAddr("81.2.69.1"))
	require.True(t, ok)
	require.Equal(t, "GB", loc.Country)

	off, status, err := Config{DataDir: dir, GeoIP: "off"}.OpenGeoIP()
	require.NoError(t, err)
	require.Nil(t, off)
	require.Contains(t, status, "CAIRN_GEOIP=off")

	_, _, err = Config{DataDir: dir, GeoIPDB: filepath.Join(dir, "missing.mmdb")}.OpenGeoIP()
	require.ErrorContains(t, err, "CAIRN_GEOIP_DB", "a path that is set must open")
	_, _, err = Config{DataDir: dir, GeoIP: "maybe"}.OpenGeoIP()
	require.ErrorContains(t, err, "CAIRN_GEOIP")
}

func TestSeenGranularityFromEnv(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": time.Minute, "0": 0, "0s": 0, "10s": 10 * time.Second, " 1h ": time.Hour} {
		cfg, err := Config{SeenGranularity: in}.IdentityConfig()
		require.NoError(t, err, in)
		require.Equal(t, want, cfg.SeenGranularity, in)
	}
	for _, bad := range []string{"-1s", "2h", "soon", "10"} {
		_, err := Config{SeenGranularity: bad}.IdentityConfig()
		require.ErrorContains(t, err, "CAIRN_SEEN_GRANULARITY", bad)
	}
}
