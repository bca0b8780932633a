package provider

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Refused ranges beyond what netip.Addr's predicates cover.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64 (may embed a private IPv4)
}

// blockedAddr reports whether ip is one Cairn refuses to call without AllowPrivate.
func blockedAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// dialControl runs after DNS resolution, on the exact address about to be dialled, so a name
// that resolves (or is rebound) to a private address is refused at connect time.
func dialControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return &BlockedAddressError{Addr: address}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || blockedAddr(ip) {
		return &BlockedAddressError{Addr: host}
	}
	return nil
}

// GuardedTransport returns a transport for destination calls: no proxy from the environment
// (a proxy would dial on our behalf, past the guard) and, unless allowPrivate, a dialer that
// refuses loopback, private and link-local addresses.
func GuardedTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = dialControl
	}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

var (
	guardedClient = &http.Client{Transport: GuardedTransport(false), CheckRedirect: noRedirect}
	privateClient = &http.Client{Transport: GuardedTransport(true), CheckRedirect: noRedirect}
)

// noRedirect: provider APIs do not redirect API calls; following one would send credentials
// to wherever it points.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func httpClientFor(opts Options) *http.Client {
	switch {
	case opts.HTTPClient != nil:
		return opts.HTTPClient
	case opts.AllowPrivate:
		return privateClient
	default:
		return guardedClient
	}
}

// checkURL validates a configured URL early, with a clear error: http(s) only, https unless
// allowPrivate, no literal private address or localhost unless allowPrivate. The dial-time guard
// still checks what names resolve to.
func checkURL(field, raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, &ConfigError{Field: field, Reason: "must be an absolute URL such as https://host/path"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowPrivate {
			return nil, &ConfigError{Field: field, Reason: "must use https"}
		}
	default:
		return nil, &ConfigError{Field: field, Reason: fmt.Sprintf("scheme %q is not https", u.Scheme)}
	}
	if u.User != nil {
		return nil, &ConfigError{Field: field, Reason: "must not carry credentials; use the API key or secret fields"}
	}
	if !allowPrivate {
		host := strings.ToLower(u.Hostname())
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return nil, &ConfigError{Field: field, Reason: "points at localhost, which is refused (set the allow-private-destinations setting to permit it)"}
		}
		if ip, err := netip.ParseAddr(host); err == nil && blockedAddr(ip) {
			return nil, &ConfigError{Field: field, Reason: (&BlockedAddressError{Addr: host}).Error()}
		}
	}
	return u, nil
}
