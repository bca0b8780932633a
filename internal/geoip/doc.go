// Package geoip locates IP addresses in a MaxMind-format database (MMDB), read with
// github.com/oschwald/maxminddb-golang/v2: the country always; the region and city only from a
// city database. It reads MaxMind's layout (GeoIP2/GeoLite2 and DB-IP's: country.iso_code,
// subdivisions, city.names) and ip-location-db's (country_code; state1 and city in its city
// databases), so the openly licensed geo-whois-asn-country database Cairn installs works as
// well as an operator's own. Package ingest uses it before truncating context.ip; the address
// itself is never stored by this package.
package geoip
