package segment

import (
	"context"
	"database/sql"
	"fmt"
)

// MaxSuggestions caps TraitKeys and EventNames.
const MaxSuggestions = 200

// traitKeysQuery lists the trait paths (dotted, up to 3 levels; objects are descended, not
// listed) of the 5,000 newest live customers (a backward scan of the UUIDv7 primary key), so
// its cost does not grow with the table.
const traitKeysQuery = `WITH RECURSIVE recent AS (
	SELECT traits FROM customers WHERE merged_into_id IS NULL ORDER BY id DESC LIMIT 5000
), kv(path, value, depth) AS (
	SELECT e.key, e.value, 1 FROM recent,
		jsonb_each(CASE WHEN jsonb_typeof(recent.traits) = 'object' THEN recent.traits ELSE '{}'::jsonb END) e
	UNION ALL
	SELECT kv.path || '.' || e.key, e.value, kv.depth + 1 FROM kv,
		jsonb_each(CASE WHEN jsonb_typeof(kv.value) = 'object' THEN kv.value ELSE '{}'::jsonb END) e
	WHERE kv.depth < 3
)
SELECT DISTINCT path FROM kv
WHERE jsonb_typeof(value) <> 'object' AND starts_with(lower(path), lower($1))
ORDER BY path LIMIT $2`

// eventNamesQuery walks the distinct event names with one index probe each (a loose index scan
// of interactions (event, occurred_at)), however many events there are.
const eventNamesQuery = `WITH RECURSIVE names(event) AS (
	(SELECT i.event FROM interactions i WHERE i.event >= $1 ORDER BY i.event LIMIT 1)
	UNION ALL
	SELECT (SELECT i.event FROM interactions i WHERE i.event > names.event ORDER BY i.event LIMIT 1)
	FROM names WHERE names.event IS NOT NULL AND starts_with(names.event, $1)
)
SELECT event FROM names WHERE event IS NOT NULL AND starts_with(event, $1) LIMIT $2`

// TraitKeys suggests trait keys starting with prefix (case-insensitively) for rule builders.
func (s *Service) TraitKeys(ctx context.Context, prefix string, limit int) ([]string, error) {
	return s.suggest(ctx, traitKeysQuery, prefix, limit)
}

// EventNames suggests event names starting with prefix (case-sensitively, as event
// conditions compare names).
func (s *Service) EventNames(ctx context.Context, prefix string, limit int) ([]string, error) {
	return s.suggest(ctx, eventNamesQuery, prefix, limit)
}

func (s *Service) suggest(ctx context.Context, q, prefix string, limit int) ([]string, error) {
	if limit < 1 || limit > MaxSuggestions {
		return nil, fmt.Errorf("%w: first must be between 1 and %d", ErrInvalidInput, MaxSuggestions)
	}
	out := []string{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, prefix, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("error listing suggestions: %w", err)
	}
	return out, nil
}
