package campaign

import (
	"bytes"
	"slices"
	"strings"
)

// sharedUpsert is an audience row whose email another live customer has too; send says
// whether the destination lacks it or holds it stale (upsert-diff).
type sharedUpsert struct {
	upsert
	send bool
}

// representatives picks, per email, the audience member with the lowest customer id, and
// returns those that need sending: one contact per email, as the destination keys contacts
// by email. A representative that is in sync means its email is sent by nobody.
func representatives(rows []sharedUpsert) []upsert {
	slices.SortFunc(rows, func(a, b sharedUpsert) int {
		if c := strings.Compare(a.contact.Email, b.contact.Email); c != 0 {
			return c
		}
		return bytes.Compare(a.customer[:], b.customer[:])
	})
	var out []upsert
	for i, r := range rows {
		if i > 0 && rows[i-1].contact.Email == r.contact.Email {
			continue
		}
		if r.send {
			out = append(out, r.upsert)
		}
	}
	return out
}
