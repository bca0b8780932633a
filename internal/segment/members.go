package segment

import (
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent/customer"
	"github.com/cairn-cdp/cairn/ent/predicate"
	"github.com/cairn-cdp/cairn/ent/segmentmembership"
)

// MemberKeys bounds a page of a segment's current members, by customer id.
type MemberKeys struct {
	// Past are exclusive bounds: only ids greater than each (less, with Desc) are kept. This
	// is how entgql's Paginate reads after and before alike: on the side of the paging
	// direction (first: greater, last: less).
	Past []uuid.UUID
	// Limit > 0 keeps only the Limit members nearest the bounds, in id order (Desc: reverse
	// id order); 0 keeps every member past them.
	Limit int
	Desc  bool
}

// Members restricts a customer query to the open members of segment within keys. The members
// are chosen in segment_memberships alone, by a keyset range of
// segmentmembership_segment_id_customer_id (segment_id, customer_id WHERE exited_at IS NULL)
// with the page's LIMIT inside, so a page reads Limit index entries and Limit customers
// whatever the segment's size. A membership condition on customers instead (EXISTS, or IN
// without the bounds) walks customers_pkey from the cursor and probes every customer: five
// per member in a segment of a fifth of the customers, a hundred in one of 1%.
//
// A caller paginating by customer id must apply the same bounds, direction and limit to the
// customers (ent's Paginate does, given the same cursors and first or last): the subquery only
// narrows the candidates to that page.
func Members(segmentID uuid.UUID, keys MemberKeys) predicate.Customer {
	return func(s *entsql.Selector) {
		m := entsql.Table(segmentmembership.Table)
		id := m.C(segmentmembership.FieldCustomerID)
		sub := entsql.Select(id).From(m).Where(entsql.And(
			entsql.EQ(m.C(segmentmembership.FieldSegmentID), segmentID),
			entsql.IsNull(m.C(segmentmembership.FieldExitedAt)),
		))
		for _, k := range keys.Past {
			if keys.Desc {
				sub.Where(entsql.LT(id, k))
			} else {
				sub.Where(entsql.GT(id, k))
			}
		}
		if keys.Limit > 0 {
			if keys.Desc {
				sub.OrderBy(entsql.Desc(id))
			} else {
				sub.OrderBy(id)
			}
			sub.Limit(keys.Limit)
		}
		s.Where(entsql.In(s.C(customer.FieldID), sub))
	}
}
