package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/pgarray"
)

// CampaignRecord is one campaign's record of a person, as a data subject's export shows it.
type CampaignRecord struct {
	CampaignID      uuid.UUID `json:"campaignId"`
	Campaign        string    `json:"campaign"`
	DestinationKind string    `json:"destinationKind"`
	Email           string    `json:"email"`
	// State is what the destination holds: synced, failed (LastError says why) or removed.
	State        string     `json:"state"`
	LastError    string     `json:"lastError,omitempty"`
	UpdatedAt    time.Time  `json:"updatedAt"`
	LastSyncedAt *time.Time `json:"lastSyncAt,omitempty"`
}

// ExportPerson lists every campaign snapshot row of customers or emails (it implements
// privacy.DestinationExporter). Opens and clicks are interactions, exported with them.
func (p *Privacy) ExportPerson(ctx context.Context, tx *sql.Tx, customers []uuid.UUID, emails []string) (any, error) {
	rows, err := tx.QueryContext(ctx, privacyQueries["export-person"], pgarray.UUIDs(customers), pq.Array(nonNil(emails)))
	if err != nil {
		return nil, fmt.Errorf("error reading campaign records: %w", err)
	}
	defer rows.Close()
	out := []CampaignRecord{}
	for rows.Next() {
		var r CampaignRecord
		var synced sql.NullTime
		if err := rows.Scan(&r.CampaignID, &r.Campaign, &r.DestinationKind, &r.Email, &r.State, &r.LastError, &r.UpdatedAt, &synced); err != nil {
			return nil, fmt.Errorf("error reading campaign records: %w", err)
		}
		if synced.Valid {
			r.LastSyncedAt = &synced.Time
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
