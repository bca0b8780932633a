package pgdev

import (
	"net/url"
	"strings"
)

// RedactDSN returns a PostgreSQL connection string fit for a log line or an error message: a
// URL with its password (in the user info or a password query parameter) masked, a key=value
// string with a password= hidden whole, and an unparseable URL hidden whole (it may hold one).
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	if strings.Contains(dsn, "password=") {
		return "(connection string hidden: it contains a password)"
	}
	if strings.Contains(dsn, "://") {
		return "(connection URL hidden: it cannot be parsed)"
	}
	return dsn
}
