package privacy

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Suppression is one entry of the list as the API shows it: never the identifier.
type Suppression struct {
	Hash         string // hex keyed hash
	IdentityType string
	RequestID    *uuid.UUID // the erasure that added it; nil when unknown
	CreatedAt    time.Time
}

// LiftSuppression removes the entry for one identifier (typ and value, normalised by the
// service's normaliser) so that events carrying it are accepted again. It reports whether an
// entry was there; the audit event names the hash and type, not the value.
func (s *Service) LiftSuppression(ctx context.Context, actor, typ, value string) (bool, error) {
	norm, err := s.normalize(typ, value)
	if err != nil {
		return false, err
	}
	h := s.sup.Hash(typ, norm)
	var lifted bool
	err = txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE hash = $1`, h[:])
		if err != nil {
			return fmt.Errorf("error lifting a suppression: %w", err)
		}
		n, _ := res.RowsAffected()
		lifted = n > 0
		if !lifted {
			return nil
		}
		return audit.Record(ctx, client, audit.Event{
			Actor: actor, Action: "privacy.suppression_lift", TargetType: "Suppression",
			TargetID: hex.EncodeToString(h[:]), Details: map[string]any{"identityType": typ},
		})
	})
	if err != nil {
		return false, err
	}
	if lifted {
		s.sup.forget()
		if err := s.sup.Refresh(ctx); err != nil {
			return true, err
		}
	}
	return lifted, nil
}

// MaxSuppressionsPage is the most entries ListSuppressions returns at once.
const MaxSuppressionsPage = 500

// ListSuppressions returns up to first (1..MaxSuppressionsPage) entries ordered by hash, after
// the hash after ("" for the start), and the total count.
func (s *Service) ListSuppressions(ctx context.Context, first int, after string) ([]Suppression, int, error) {
	if first < 1 || first > MaxSuppressionsPage {
		return nil, 0, fmt.Errorf("%w: first must be 1..%d", ErrInvalidInput, MaxSuppressionsPage)
	}
	var afterBytes []byte
	if after != "" {
		b, err := hex.DecodeString(after)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: after is not a suppression cursor", ErrInvalidInput)
		}
		afterBytes = b
	}
	rows, err := s.db.QueryContext(ctx, `SELECT hash, identity_type, request_id, created_at
		FROM suppressions WHERE $1::bytea IS NULL OR hash > $1 ORDER BY hash LIMIT $2`, afterBytes, first)
	if err != nil {
		return nil, 0, fmt.Errorf("error listing suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var e Suppression
		var h []byte
		var req uuid.NullUUID
		if err := rows.Scan(&h, &e.IdentityType, &req, &e.CreatedAt); err != nil {
			return nil, 0, fmt.Errorf("error listing suppressions: %w", err)
		}
		if req.Valid {
			e.RequestID = &req.UUID
		}
		e.Hash = hex.EncodeToString(h)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("error listing suppressions: %w", err)
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM suppressions`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("error counting suppressions: %w", err)
	}
	return out, total, nil
}
