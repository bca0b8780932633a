package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/segmentmembership"
	"github.com/cairn-cdp/cairn/internal/segment"
)

func (r *Resolver) segments() *segment.Service {
	return &segment.Service{DB: r.DB, Scheduler: r.SegmentJobs}
}

// customerSegments answers Customer.segments for every customer of the list obj belongs to (the
// edges of a customers connection, or a list of customers) with one membership query and one
// segments query, however many customers the list has; the siblings' resolvers (gqlgen runs
// them concurrently) share that answer through the operation's batches (see Batches). A
// customer outside a list costs the same two queries.
func (r *Resolver) customerSegments(ctx context.Context, obj *ent.Customer) ([]*ent.Segment, error) {
	list, ids := customerList(graphql.GetFieldContext(ctx).Parent)
	bs := batchesFrom(ctx)
	if list == nil || bs == nil {
		m, err := loadCustomerSegments(ctx, r.Client, []uuid.UUID{obj.ID})
		if err != nil {
			return nil, err
		}
		return orEmpty(m[obj.ID]), nil
	}
	b := bs.segmentsOf(list)
	b.once.Do(func() { b.byCustomer, b.err = loadCustomerSegments(ctx, r.Client, ids) })
	if b.err != nil {
		return nil, b.err
	}
	return orEmpty(b.byCustomer[obj.ID]), nil
}

// batches holds, for one GraphQL operation, the Customer.segments batch of each customer list
// being resolved, keyed by the list's field context. It lives and dies with the operation.
type batches struct {
	mu       sync.Mutex
	segments map[*graphql.FieldContext]*segmentBatch
}

func (bs *batches) segmentsOf(list *graphql.FieldContext) *segmentBatch {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b, ok := bs.segments[list]
	if !ok {
		b = &segmentBatch{}
		bs.segments[list] = b
	}
	return b
}

type batchesKey struct{}

func batchesFrom(ctx context.Context) *batches {
	bs, _ := ctx.Value(batchesKey{}).(*batches)
	return bs
}

// Batches is an operation middleware giving each operation its own batch loaders, so sibling
// resolvers share one query per list instead of one per item.
func Batches(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, batchesKey{}, &batches{segments: map[*graphql.FieldContext]*segmentBatch{}}))
}

type segmentBatch struct {
	once       sync.Once
	byCustomer map[uuid.UUID][]*ent.Segment
	err        error
}

// customerList walks up from a Customer field to the list field holding that customer and
// returns the list's field context and all its customers' ids, or nil when the customer is not
// in a list.
func customerList(fc *graphql.FieldContext) (*graphql.FieldContext, []uuid.UUID) {
	for ; fc != nil; fc = fc.Parent {
		switch v := fc.Result.(type) {
		case []*ent.CustomerEdge:
			ids := make([]uuid.UUID, 0, len(v))
			for _, e := range v {
				if e != nil && e.Node != nil {
					ids = append(ids, e.Node.ID)
				}
			}
			return fc, ids
		case []*ent.Customer:
			ids := make([]uuid.UUID, 0, len(v))
			for _, c := range v {
				if c != nil {
					ids = append(ids, c.ID)
				}
			}
			return fc, ids
		case *ent.Customer, *ent.CustomerEdge, **ent.Customer, **ent.CustomerEdge:
			continue // the customer itself, its edge, their list elements
		default:
			return nil, nil
		}
	}
	return nil, nil
}

// loadCustomerSegments returns the segments each of ids is currently a member of, by name.
func loadCustomerSegments(ctx context.Context, client *ent.Client, ids []uuid.UUID) (map[uuid.UUID][]*ent.Segment, error) {
	ms, err := client.SegmentMembership.Query().
		Where(segmentmembership.CustomerIDIn(ids...), segmentmembership.ExitedAtIsNil()).
		WithSegment().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("error loading customers' segments: %w", err)
	}
	out := make(map[uuid.UUID][]*ent.Segment, len(ids))
	for _, m := range ms {
		if m.Edges.Segment != nil {
			out[m.CustomerID] = append(out[m.CustomerID], m.Edges.Segment)
		}
	}
	for _, segs := range out {
		slices.SortFunc(segs, func(a, b *ent.Segment) int { return strings.Compare(a.Name, b.Name) })
	}
	return out, nil
}

func orEmpty(segs []*ent.Segment) []*ent.Segment {
	if segs == nil {
		return []*ent.Segment{}
	}
	return segs
}
