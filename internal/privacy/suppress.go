package privacy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/secret"
)

// suppressionPurpose derives the suppression-hash key from CAIRN_SECRET_KEY (secret.Box.MAC), so
// hashes match across runs and processes and prove nothing without the key.
const suppressionPurpose = "cairn/privacy/suppression/v1"

// DefaultRefreshEvery is how often a process reloads the suppression list written by others.
const DefaultRefreshEvery = time.Second

// Suppressions is the suppression list: keyed hashes of erased people's identifiers, in the
// suppressions table and mirrored in memory so ingest checks a message without a query. Entries
// written by this process (erasure, lifting) change the mirror before their transaction
// commits; entries written by other processes appear within one refresh (Run). It is safe for
// concurrent use, and implements ingest's Suppressor.
type Suppressions struct {
	db   *sql.DB
	key  []byte
	macs sync.Pool
	// set is the mirror; nil or empty means nothing is suppressed (the common case costs one
	// atomic load per message).
	set atomic.Pointer[map[[sha256.Size]byte]struct{}]
	mu  sync.Mutex // serialises reloads and local changes of set
	// sig is the (count, newest) of the table when set was last loaded.
	sig suppressionSig
}

type suppressionSig struct {
	n      int64
	newest time.Time
}

// NewSuppressions returns the list on db, keyed by box. Call Refresh (or Run) to load it.
func NewSuppressions(db *sql.DB, box *secret.Box) *Suppressions {
	s := &Suppressions{db: db, key: box.MAC(suppressionPurpose, nil)}
	s.macs.New = func() any { return &macState{h: hmac.New(sha256.New, s.key)} }
	return s
}

// Hash returns the keyed hash of one normalised identifier.
func (s *Suppressions) Hash(typ, value string) [sha256.Size]byte {
	m := s.macs.Get().(*macState)
	m.h.Reset()
	m.buf = append(append(append(m.buf[:0], typ...), 0), value...)
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	var out [sha256.Size]byte
	copy(out[:], m.sum)
	s.macs.Put(m)
	return out
}

// macState is one pooled HMAC with its buffers, so hashing allocates nothing.
type macState struct {
	h        hash.Hash
	buf, sum []byte
}

// HashHex is Hash as lower-case hex, the form the API shows.
func (s *Suppressions) HashHex(typ, value string) string {
	h := s.Hash(typ, value)
	return hex.EncodeToString(h[:])
}

// Suppressed reports whether any of ids (normalised), or previous (an alias's previousId, a
// user_id or an anonymous_id), is on the list.
func (s *Suppressions) Suppressed(ids []identity.Identifier, previous string) bool {
	p := s.set.Load()
	if p == nil || len(*p) == 0 {
		return false
	}
	set := *p
	for _, id := range ids {
		if _, ok := set[s.Hash(id.Type, id.Value)]; ok {
			return true
		}
	}
	if previous != "" {
		for _, typ := range []string{identity.TypeUserID, identity.TypeAnonymousID} {
			if _, ok := set[s.Hash(typ, previous)]; ok {
				return true
			}
		}
	}
	return false
}

// Len is the number of entries in the in-memory mirror.
func (s *Suppressions) Len() int {
	if p := s.set.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// Refresh reloads the mirror when the table changed since the last load (one index-only
// aggregate when it did not).
func (s *Suppressions) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sig suppressionSig
	var newest sql.NullTime
	row := s.db.QueryRowContext(ctx, `SELECT count(*), max(created_at) FROM suppressions`)
	if err := row.Scan(&sig.n, &newest); err != nil {
		return fmt.Errorf("error reading the suppression list: %w", err)
	}
	sig.newest = newest.Time
	if sig == s.sig && s.set.Load() != nil {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT hash FROM suppressions`)
	if err != nil {
		return fmt.Errorf("error loading the suppression list: %w", err)
	}
	defer rows.Close()
	set := make(map[[sha256.Size]byte]struct{}, sig.n)
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return fmt.Errorf("error loading the suppression list: %w", err)
		}
		var k [sha256.Size]byte
		copy(k[:], h)
		set[k] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error loading the suppression list: %w", err)
	}
	s.set.Store(&set)
	s.sig = sig
	return nil
}

// Run refreshes the mirror every interval (DefaultRefreshEvery when zero) until ctx ends.
// Failed refreshes keep the previous mirror and are retried at the next tick.
func (s *Suppressions) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	if every <= 0 {
		every = DefaultRefreshEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil && onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

// add puts hashes into the mirror at once (before the transaction that inserts them commits:
// suppressing a little early is safe, a rollback is undone by the next reload).
func (s *Suppressions) add(hashes [][sha256.Size]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[[sha256.Size]byte]struct{}{}
	if p := s.set.Load(); p != nil {
		for k := range *p {
			next[k] = struct{}{}
		}
	}
	for _, h := range hashes {
		next[h] = struct{}{}
	}
	s.set.Store(&next)
	s.sig = suppressionSig{} // force the next Refresh to reload
}

// forget marks the mirror stale so the next Refresh reloads it (after a lift commits).
func (s *Suppressions) forget() {
	s.mu.Lock()
	s.sig = suppressionSig{n: -1}
	s.mu.Unlock()
}

// insert records hashes of ids for request in tx; it returns how many were new.
func (s *Suppressions) insert(ctx context.Context, tx *sql.Tx, request string, ids []identity.Identifier) (int, [][sha256.Size]byte, error) {
	hashes := make([][sha256.Size]byte, 0, len(ids))
	hexes, types := make(pq.StringArray, 0, len(ids)), make(pq.StringArray, 0, len(ids))
	for _, id := range ids {
		h := s.Hash(id.Type, id.Value)
		hashes = append(hashes, h)
		hexes, types = append(hexes, hex.EncodeToString(h[:])), append(types, id.Type)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO suppressions (hash, identity_type, request_id)
		SELECT decode(h, 'hex'), t, $3 FROM unnest($1::text[], $2::text[]) AS x(h, t)
		ON CONFLICT (hash) DO NOTHING`, hexes, types, request)
	if err != nil {
		return 0, nil, fmt.Errorf("error recording suppressions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), hashes, nil
}
