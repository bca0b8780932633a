package ingest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent/interaction"
	"github.com/cairn-cdp/cairn/ent/schema"
	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

type consentRows struct {
	ids, customers, purposes, sources, recorded, proofs []string
	granted                                             []bool
}

func (c *consentRows) add(cust uuid.UUID, d consentDecision, source string, m *prepared) {
	proof, _ := json.Marshal(map[string]any{
		"messageId": m.messageID, "category": d.category, "via": "context.consent.categoryPreferences",
	})
	c.ids = append(c.ids, schema.NewID().String())
	c.customers = append(c.customers, cust.String())
	c.purposes = append(c.purposes, d.purpose)
	c.granted = append(c.granted, d.granted)
	c.sources = append(c.sources, source)
	c.recorded = append(c.recorded, m.occurredAt.Format(time.RFC3339Nano))
	c.proofs = append(c.proofs, string(proof))
}

// interactionRows are a group's messages to store, in the order they were resolved.
type interactionRows []interactionRow

type interactionRow struct {
	m      *prepared
	cust   uuid.UUID
	source string
}

func (r *interactionRows) add(m *prepared, cust uuid.UUID, source string) {
	*r = append(*r, interactionRow{m: m, cust: cust, source: source})
}

// encode writes the rows in COPY text format, columns in interaction.Columns order, rows in
// customer order: consecutive rows then share the customer's foreign key check (the same row,
// already locked by this transaction) and the index pages of its (customer_id, …) entries.
func (r interactionRows) encode(buf *pgcopy.Buffer) {
	slices.SortStableFunc(r, func(a, b interactionRow) int { return bytes.Compare(a.cust[:], b.cust[:]) })
	var ts []byte
	text := func(s string) {
		if s == "" {
			buf.Null()
		} else {
			buf.Text(s)
		}
	}
	for _, row := range r {
		m := row.m
		buf.UUID(schema.NewID())
		buf.Text(m.kind)
		text(m.event)
		text(m.properties)
		buf.Text(m.context)
		// As text with nanoseconds, which PostgreSQL rounds to its microseconds.
		ts = m.occurredAt.AppendFormat(ts[:0], time.RFC3339Nano)
		buf.TextBytes(ts)
		ts = m.receivedAt.AppendFormat(ts[:0], time.RFC3339Nano)
		buf.TextBytes(ts)
		buf.Text(m.messageID)
		text(m.revenue)
		buf.Text(row.source)
		text(m.channel)
		buf.UUID(row.cust)
		buf.EndRow()
	}
}

// insertEvents stores the group's consent decisions and interactions. Interactions go by COPY
// (~15 ms for 600 rows, about 30% less than a multi-row INSERT from arrays). COPY cannot skip
// conflicts: a messageId already stored (a client's retry, unless commit checked for those
// first, or one a concurrent transaction stored) fails the COPY with a unique violation, and
// commitRetrying retries with the check, which counts it a duplicate. The rows are encoded
// straight into one COPY buffer sent in large pieces on tx's connection conn, not row by row
// through database/sql.
func (p *Pipeline) insertEvents(ctx context.Context, conn *sql.Conn, tx *sql.Tx, r *interactionRows, c *consentRows) error {
	if len(c.ids) > 0 {
		_, err := p.st.On(ctx, tx, "insert-consents").ExecContext(ctx, pq.StringArray(c.ids), pq.StringArray(c.customers),
			pq.StringArray(c.purposes), pq.BoolArray(c.granted), pq.StringArray(c.sources), pq.StringArray(c.recorded),
			pq.StringArray(c.proofs))
		if err != nil {
			return fmt.Errorf("error inserting consents: %w", err)
		}
	}
	if len(*r) == 0 {
		return nil
	}
	var buf pgcopy.Buffer
	r.encode(&buf)
	if p.copyHook != nil {
		p.copyHook()
	}
	if _, err := pgcopy.Copy(ctx, conn, interaction.Table, interaction.Columns, &buf); err != nil {
		return fmt.Errorf("error copying interactions: %w", err)
	}
	return nil
}
