package graph

import (
	"context"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/segmentmembership"
	"github.com/cairn-cdp/cairn/internal/segment"
)

// segmentMembers answers Segment.members: the segment's open members as a Relay connection
// ordered by customer id, paginated by ent's Paginate over customers narrowed to the page by
// segment.Members (a keyset scan of the memberships; see there). Paginate's own COUNT would
// count only the narrowed candidates, so totalCount, when selected, is one COUNT of the
// segment's open memberships instead.
func (r *Resolver) segmentMembers(ctx context.Context, segmentID uuid.UUID, after *entgql.Cursor[uuid.UUID], first *int,
	before *entgql.Cursor[uuid.UUID], last *int,
) (*ent.CustomerConnection, error) {
	pageCtx, wantTotal, ok := pageOnly(ctx)
	if !ok { // no edges: Paginate counts every member, as it would for any connection
		return r.Client.Customer.Query().Where(segment.Members(segmentID, segment.MemberKeys{})).
			Paginate(ctx, after, first, before, last)
	}
	keys := segment.MemberKeys{Desc: last != nil} // Paginate pages backward with last
	for _, c := range []*entgql.Cursor[uuid.UUID]{after, before} {
		if c != nil {
			keys.Past = append(keys.Past, c.ID)
		}
	}
	switch { // Paginate refuses both, and negative sizes, before querying
	case first != nil && last == nil && *first >= 0:
		keys.Limit = *first + 1
	case last != nil && first == nil && *last >= 0:
		keys.Limit = *last + 1
	}
	conn, err := r.Client.Customer.Query().Where(segment.Members(segmentID, keys)).
		Paginate(pageCtx, after, first, before, last)
	if err != nil || !wantTotal {
		return conn, err
	}
	n, err := r.Client.SegmentMembership.Query().
		Where(segmentmembership.SegmentID(segmentID), segmentmembership.ExitedAtIsNil()).Count(ctx)
	if err != nil {
		return nil, err
	}
	conn.TotalCount = n
	return conn, nil
}
