package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/identity"
)

// ref locates one message of a group.
type ref struct {
	req, idx int
	m        *prepared
}

// commit runs one group in one transaction. check looks up the group's messageIds first, so
// retried messages count as duplicates; without it a retried message fails the COPY.
func (p *Pipeline) commit(group []*request, check bool) ([]Result, error) {
	ctx := context.Background()
	results := make([]Result, len(group))

	// Messages in order, repeats within the group counted as duplicates.
	var refs []ref
	seen := map[string]bool{}
	var ids []string
	for ri, r := range group {
		for i, m := range r.msgs {
			if seen[m.messageID] {
				results[ri].Duplicates++
				continue
			}
			seen[m.messageID] = true
			refs = append(refs, ref{ri, i, m})
			ids = append(ids, m.messageID)
		}
	}

	// A connection of its own, so the COPY can reach the driver inside the transaction.
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error getting a connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("error beginning transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	stored := map[string]bool{}
	if check {
		if stored, err = p.existing(ctx, tx, ids); err != nil {
			return nil, err
		}
	}
	todo := refs[:0:0]
	for _, rf := range refs {
		if stored[rf.m.messageID] {
			results[rf.req].Duplicates++
			continue
		}
		// Checked in the transaction, so a retry after an erasure took this group's customers
		// sees the identifiers the erasure suppressed.
		if p.opts.Suppressor != nil && p.opts.Suppressor.Suppressed(rf.m.ids, rf.m.previous) {
			results[rf.req].Suppressed++
			continue
		}
		todo = append(todo, rf)
	}

	subjects := make([]identity.Subject, len(todo))
	for i, rf := range todo {
		subjects[i] = identity.Subject{IDs: rf.m.ids, At: rf.m.occurredAt, Ref: rf.m.messageID, Previous: rf.m.previous}
	}
	batch, err := p.res.Resolve(ctx, tx, subjects)
	if err != nil {
		return nil, err
	}
	analytics, err := p.analyticsConsent(ctx, tx, batch)
	if err != nil {
		return nil, err
	}

	var rows interactionRows
	var consents consentRows
	var geo geoGroup
	for i, rf := range todo {
		if p.failHook != nil {
			if err := p.failHook(rf.m); err != nil {
				return nil, err
			}
		}
		cust := batch.Customer(i)
		for _, c := range rf.m.consents {
			consents.add(cust, c, group[rf.req].source, rf.m)
			if c.purpose == "analytics" {
				analytics[cust] = c.granted
			}
		}
		if granted, known := analytics[cust]; known && !granted {
			results[rf.req].Dropped++
			continue
		}
		traits := rf.m.traits
		if rf.m.country != "" && geo.changes(cust, rf.m, &p.countries) {
			traits = maps.Clone(traits)
			if traits == nil {
				traits = map[string]any{}
			}
			traits[GeoCountryTrait] = rf.m.country
		}
		batch.Observe(cust, rf.m.occurredAt, traits)
		rows.add(rf.m, cust, group[rf.req].source)
		results[rf.req].Stored++
	}

	if err := batch.Flush(ctx, "system"); err != nil {
		return nil, err
	}
	if err := p.insertEvents(ctx, conn, tx, &rows, &consents); err != nil {
		return nil, err
	}
	if err := batch.Finish(ctx); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("error committing ingest transaction: %w", err)
	}
	batch.Committed()
	geo.committed(&p.countries)

	merges, conflicts := len(batch.Merges()), len(batch.Conflicts())
	p.m.merges.Add(float64(merges))
	p.m.conflicts.Add(float64(conflicts))
	p.m.limited.Add(float64(batch.Limited()))
	p.m.groupSize.Observe(float64(len(refs)))
	for _, r := range results {
		p.m.events.WithLabelValues("stored").Add(float64(r.Stored))
		p.m.events.WithLabelValues("duplicate").Add(float64(r.Duplicates))
		p.m.dropped.WithLabelValues("consent").Add(float64(r.Dropped))
		p.m.dropped.WithLabelValues("suppressed").Add(float64(r.Suppressed))
	}
	return results, nil
}

func (p *Pipeline) existing(ctx context.Context, tx *sql.Tx, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.st.On(ctx, tx, "existing-message-ids").QueryContext(ctx, pq.StringArray(ids))
	if err != nil {
		return nil, fmt.Errorf("error checking message ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("error reading message ids: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// analyticsConsent returns the latest analytics decision per customer of the batch (merged
// profiles' decisions count for their survivor: the latest of them wins).
func (p *Pipeline) analyticsConsent(ctx context.Context, tx *sql.Tx, b *identity.Batch) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	existing := b.Existing()
	if len(existing) == 0 {
		return out, nil
	}
	ids := make([]string, len(existing))
	for i, id := range existing {
		ids[i] = id.String()
	}
	rows, err := p.st.On(ctx, tx, "latest-analytics-consents").QueryContext(ctx, pq.StringArray(ids))
	if err != nil {
		return nil, fmt.Errorf("error reading consents: %w", err)
	}
	defer rows.Close()
	latest := map[uuid.UUID]time.Time{}
	for rows.Next() {
		var id uuid.UUID
		var granted bool
		var at time.Time
		if err := rows.Scan(&id, &granted, &at); err != nil {
			return nil, fmt.Errorf("error reading consents: %w", err)
		}
		root := b.Root(id)
		if cur, ok := latest[root]; !ok || at.After(cur) {
			latest[root], out[root] = at, granted
		}
	}
	return out, rows.Err()
}
