package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Stats are a campaign's figures, computed by one SQL statement (stats in queries.sql).
type Stats struct {
	Audience     int // distinct emails in the audience now
	Synced       int // contacts the destination holds (snapshot rows synced)
	UniqueOpens  int // people with a human open
	MachineOpens int // people with an open by a privacy proxy or scanner
	UniqueClicks int // people with a human click
	Conversions  int // Order Completed within the conversion window after a human click
	Revenue      float64
	// Events of people who denied email_tracking: counted, not linked to anyone.
	UnlinkedOpens, UnlinkedMachineOpens, UnlinkedClicks int
}

// OpenRate is UniqueOpens / Synced (0 when nothing is synced).
func (s Stats) OpenRate() float64 { return ratio(s.UniqueOpens, s.Synced) }

// CTR is UniqueClicks / Synced (0 when nothing is synced).
func (s Stats) CTR() float64 { return ratio(s.UniqueClicks, s.Synced) }

// ConversionRate is Conversions / UniqueClicks (0 without clicks).
func (s Stats) ConversionRate() float64 { return ratio(s.Conversions, s.UniqueClicks) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// CampaignStats computes a campaign's stats.
func CampaignStats(ctx context.Context, db *sql.DB, campaignID uuid.UUID) (Stats, error) {
	var s Stats
	err := db.QueryRowContext(ctx, queries["stats"], campaignID).Scan(&s.Audience, &s.Synced,
		&s.UniqueOpens, &s.MachineOpens, &s.UniqueClicks, &s.Conversions, &s.Revenue,
		&s.UnlinkedOpens, &s.UnlinkedMachineOpens, &s.UnlinkedClicks)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("%w: campaign %s", ErrNotFound, campaignID)
	}
	if err != nil {
		return s, fmt.Errorf("error computing campaign stats: %w", err)
	}
	return s, nil
}
