package campaign

import "strings"

// machineAgents are user-agent fragments (lower case) of privacy proxies and link scanners that
// fetch images and links without a person reading: Apple Mail Privacy Protection prefetches
// through its proxy, security gateways (Barracuda, Mimecast, Proofpoint…) open and follow
// every link on delivery, and HTTP libraries are never a mail client.
var machineAgents = []string{
	"yahoomailproxy", "barracuda", "mimecast", "proofpoint", "symantec", "messagelabs",
	"forcepoint", "trendmicro", "cisco", "ironport", "fireeye", "sophos", "zscaler",
	"safelinks", "bot", "crawler", "spider", "scanner", "preview",
	"python-requests", "python-urllib", "go-http-client", "curl/", "wget/", "java/", "okhttp",
	"headlesschrome",
}

// appleMPP is the bare WebKit user agent Apple's Mail Privacy Protection proxy sends: a real
// Mail or Safari client adds a Version/ or Mobile/ token.
const appleMPP = "mozilla/5.0 (macintosh; intel mac os x 10_15_7) applewebkit/605.1.15 (khtml, like gecko)"

// MachineAgent reports whether a request with this User-Agent comes from a privacy proxy or a
// scanner rather than a person. An empty user agent is a machine: mail clients send one.
func MachineAgent(ua string) bool {
	ua = strings.ToLower(strings.TrimSpace(ua))
	if ua == "" || ua == appleMPP {
		return true
	}
	for _, m := range machineAgents {
		if strings.Contains(ua, m) {
			return true
		}
	}
	return false
}
