// Package shell quotes words for a POSIX shell (/bin/sh): for commands Cairn prints for a person
// to run again, and for arguments that another program passes through the shell (pg_ctl -o).
package shell

import "strings"

// Quote returns s as one POSIX shell word: unchanged when it is made only of characters the
// shell never interprets, otherwise in single quotes (a quote inside closes the quoting, is
// escaped with a backslash, and reopens it).
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == ',' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
