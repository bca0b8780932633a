package wire

import "github.com/cairn-cdp/cairn/internal/textcut"

// truncate returns s cut to at most n bytes and marked with "…" when it was longer, for quoting
// client input in error messages; it never cuts inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return textcut.Prefix(s, n) + "…"
}
