// Package textcut cuts text to a byte budget without splitting a UTF-8 character, for quoting
// client input in error messages and storing error text in bounded columns.
package textcut

import "unicode/utf8"

// Prefix returns the longest prefix of s that is at most n bytes long and does not end inside a
// UTF-8 sequence (it may keep fewer than n bytes). n below zero counts as zero. A prefix of valid
// UTF-8 is valid UTF-8.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
