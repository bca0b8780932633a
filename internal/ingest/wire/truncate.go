package wire

import "unicode/utf8"

// truncate returns s cut to at most n bytes and marked with "…" when it was longer, for quoting
// client input in error messages. It cuts at a character boundary, never inside a UTF-8
// sequence (the cut may then keep fewer than n bytes).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
