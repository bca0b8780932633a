package bench

import (
	"database/sql"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// The hand-written baselines of `cairn bench reads`: each read as one SQL statement that builds
// the whole JSON answer in PostgreSQL (json_build_object with subqueries), behind a bare
// net/http handler. They answer with the same data, in the same envelope, as the GraphQL
// queries in reads.go, so the ratio between the two is what GraphQL, ent and the server cost.

// baselineProfile is a customer with its identities, interaction count and 20 newest
// interactions: three index scans (customers_pkey, identity_customer_id_type,
// interaction_customer_id_occurred_at).
const baselineProfile = `
SELECT json_build_object(
  'id', c.id, 'email', c.email, 'phone', c.phone, 'traits', c.traits,
  'firstSeenAt', c.first_seen_at, 'lastSeenAt', c.last_seen_at,
  'identities', (SELECT coalesce(json_agg(json_build_object('type', i.type, 'value', i.value)), '[]'::json)
                 FROM identities i WHERE i.customer_id = c.id),
  'interactions', json_build_object(
    'totalCount', (SELECT count(*) FROM interactions x WHERE x.customer_id = c.id),
    'edges', (SELECT coalesce(json_agg(json_build_object('node', json_build_object(
                'id', x.id, 'kind', x.kind, 'event', x.event, 'occurredAt', x.occurred_at,
                'properties', x.properties)) ORDER BY x.occurred_at DESC, x.id DESC), '[]'::json)
              FROM (SELECT id, kind, event, occurred_at, properties FROM interactions
                    WHERE customer_id = c.id ORDER BY occurred_at DESC, id DESC LIMIT 20) x)))
FROM customers c WHERE c.id = $1`

// baselineCustomers is a page of 50 live customers seen before $1, newest first, and whether
// there is a next page: a backward scan of customer_last_seen_at.
const baselineCustomers = `
SELECT json_build_object(
  'edges', coalesce(json_agg(json_build_object('node', json_build_object(
             'id', p.id, 'email', p.email, 'traits', p.traits, 'lastSeenAt', p.last_seen_at))
           ORDER BY p.last_seen_at DESC, p.id DESC) FILTER (WHERE p.n <= 50), '[]'::json),
  'pageInfo', json_build_object('hasNextPage', count(*) > 50))
FROM (SELECT id, email, traits, last_seen_at, row_number() OVER (ORDER BY last_seen_at DESC, id DESC) n
      FROM (SELECT id, email, traits, last_seen_at FROM customers
            WHERE merged_into_id IS NULL AND last_seen_at < $1
            ORDER BY last_seen_at DESC, id DESC LIMIT 51) q) p`

// baselineMembers is a page of 50 current members of segment $1 after customer id $2, by id: a
// scan of segmentmembership_segment_id_customer_id joined to customers_pkey.
const baselineMembers = `
SELECT json_build_object(
  'edges', coalesce(json_agg(json_build_object('node', json_build_object(
             'id', p.id, 'email', p.email, 'traits', p.traits, 'lastSeenAt', p.last_seen_at))
           ORDER BY p.id) FILTER (WHERE p.n <= 50), '[]'::json),
  'pageInfo', json_build_object('hasNextPage', count(*) > 50))
FROM (SELECT id, email, traits, last_seen_at, row_number() OVER (ORDER BY id) n
      FROM (SELECT c.id, c.email, c.traits, c.last_seen_at
            FROM segment_memberships m JOIN customers c ON c.id = m.customer_id
            WHERE m.segment_id = $1 AND m.exited_at IS NULL AND m.customer_id > $2
            ORDER BY m.customer_id LIMIT 51) q) p`

// NewBaseline returns the hand-written handler: GET /profile?id=, GET /customers?before=
// (RFC 3339) and GET /members?segment=&after= (after: a customer id, or empty for the first
// page).
func NewBaseline(db *sql.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		answer(w, r, db, `{"data":{"customer":`, `}}`, baselineProfile, id)
	})
	mux.HandleFunc("GET /customers", func(w http.ResponseWriter, r *http.Request) {
		before, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("before"))
		if err != nil {
			http.Error(w, "bad before", http.StatusBadRequest)
			return
		}
		answer(w, r, db, `{"data":{"customers":`, `}}`, baselineCustomers, before)
	})
	mux.HandleFunc("GET /members", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		seg, err := uuid.Parse(q.Get("segment"))
		if err != nil {
			http.Error(w, "bad segment", http.StatusBadRequest)
			return
		}
		var after uuid.UUID // the nil UUID sorts before every id
		if a := q.Get("after"); a != "" {
			if after, err = uuid.Parse(a); err != nil {
				http.Error(w, "bad after", http.StatusBadRequest)
				return
			}
		}
		answer(w, r, db, `{"data":{"segment":{"members":`, `}}}`, baselineMembers, seg, after)
	})
	return mux
}

// answer runs query and writes its one JSON value between head and tail; no row is null.
func answer(w http.ResponseWriter, r *http.Request, db *sql.DB, head, tail, query string, args ...any) {
	var doc []byte
	err := db.QueryRowContext(r.Context(), query, args...).Scan(&doc)
	if err == sql.ErrNoRows {
		doc, err = []byte("null"), nil
	}
	if err != nil {
		http.Error(w, "query failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	buf := make([]byte, 0, len(head)+len(doc)+len(tail))
	buf = append(append(append(buf, head...), doc...), tail...)
	_, _ = w.Write(buf)
}
