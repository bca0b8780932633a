package privacy

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/namedsql"
	"github.com/cairn-cdp/cairn/internal/pgarray"
	"github.com/cairn-cdp/cairn/internal/txn"
)

//go:embed erase.sql
var eraseSQL string

var eraseQueries = namedsql.MustParse("erase.sql", eraseSQL,
	"find-subject", "profile-tree", "lock-customers", "subject-identifiers", "delete-consents",
	"delete-memberships", "delete-interactions", "delete-identities", "delete-dirty",
	"delete-exports", "delete-customers", "clear-requests", "delete-jobs", "find-subjects")

// RequestErasure records an erasure request for the person holding the identifier and enqueues
// the job that carries it out (Erase), in one transaction. The identifier is kept on the
// request only until the erasure completes.
func (s *Service) RequestErasure(ctx context.Context, actor, typ, value string) (*ent.PrivacyRequest, error) {
	return s.request(ctx, actor, privacyrequest.KindErase, typ, value)
}

// request creates a request of kind and schedules its job.
func (s *Service) request(ctx context.Context, actor string, kind privacyrequest.Kind, typ, value string) (*ent.PrivacyRequest, error) {
	norm, err := s.normalize(typ, value)
	if err != nil {
		return nil, err
	}
	if s.sched == nil {
		return nil, fmt.Errorf("privacy: no job scheduler configured")
	}
	var out *ent.PrivacyRequest
	err = txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		req, err := client.PrivacyRequest.Create().
			SetKind(kind).SetIdentityType(typ).SetIdentityValue(norm).
			SetSubjectHash(s.sup.HashHex(typ, norm)).SetRequestedAt(s.cfg.Now()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("error recording the privacy request: %w", err)
		}
		schedule := s.sched.ScheduleErasure
		if kind == privacyrequest.KindExport {
			schedule = s.sched.ScheduleExport
		}
		if _, err := schedule(ctx, tx, req.ID); err != nil {
			return fmt.Errorf("error enqueueing the privacy request: %w", err)
		}
		out = req
		return audit.Record(ctx, client, audit.Event{
			Actor: actor, Action: "privacy." + string(kind) + "_request", TargetType: "PrivacyRequest",
			TargetID: req.ID.String(), Details: map[string]any{"identityType": typ, "subjectHash": req.SubjectHash},
		})
	})
	return out, err
}

// EraseCounts is what one erasure removed.
type EraseCounts struct {
	Profiles     int `json:"profiles"`
	Identities   int `json:"identities"`
	Interactions int `json:"interactions"`
	Consents     int `json:"consents"`
	Memberships  int `json:"memberships"`
	Exports      int `json:"exports"`
	Jobs         int `json:"jobs"`
	Requests     int `json:"requests"`
	Suppressed   int `json:"suppressed"` // new suppression entries
}

func (c EraseCounts) asMap() map[string]any {
	return map[string]any{
		"profiles": c.Profiles, "identities": c.Identities, "interactions": c.Interactions,
		"consents": c.Consents, "memberships": c.Memberships, "exports": c.Exports, "jobs": c.Jobs,
		"requests": c.Requests, "suppressed": c.Suppressed,
	}
}

// Erase carries out erasure request id in one transaction: it finds every profile of the
// person (merged-away ones too), removes them at every destination (Destinations), deletes
// their rows everywhere Cairn keeps them, puts keyed hashes of all their identifiers on the
// suppression list and completes the request, which then holds only counts and the subject's
// hash. job is the running job's id (its own row is kept). A completed request is left as is.
func (s *Service) Erase(ctx context.Context, id uuid.UUID, job int64) (EraseCounts, error) {
	var counts EraseCounts
	var req *ent.PrivacyRequest
	var hashes [][32]byte
	var ids []identity.Identifier
	err := txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		var sp *identity.Identifier
		var err error
		req, sp, err = lockRequest(ctx, client, id, privacyrequest.KindErase)
		if err != nil || sp == nil {
			return err
		}
		subject := *sp
		profiles, err := s.lockProfiles(ctx, tx, subject)
		if err != nil {
			return err
		}
		if ids, err = subjectIdentifiers(ctx, tx, profiles, subject); err != nil {
			return err
		}
		if counts, err = s.deleteAll(ctx, tx, req.ID, job, profiles, ids); err != nil {
			return err
		}
		var n int
		if n, hashes, err = s.sup.insert(ctx, tx, req.ID.String(), ids); err != nil {
			return err
		}
		counts.Suppressed = n
		now := s.cfg.Now()
		if req, err = client.PrivacyRequest.UpdateOne(req).
			SetStatus(privacyrequest.StatusCompleted).SetCompletedAt(now).
			ClearIdentityValue().SetCounts(counts.asMap()).Save(ctx); err != nil {
			return fmt.Errorf("error completing erasure request: %w", err)
		}
		if err := audit.Record(ctx, client, audit.Event{
			Action: "privacy.erase_complete", TargetType: "PrivacyRequest", TargetID: req.ID.String(),
			Details: map[string]any{"subjectHash": req.SubjectHash, "counts": counts.asMap()},
		}); err != nil {
			return err
		}
		// Suppress in this process before commit: an ingest group retrying after losing its
		// customers to this erasure must find the identifiers suppressed.
		s.sup.add(hashes)
		return nil
	})
	if err != nil {
		s.m.requests.WithLabelValues("erase", "failed").Inc()
		return EraseCounts{}, err
	}
	if req == nil || req.CompletedAt == nil || hashes == nil {
		return counts, nil
	}
	s.m.requests.WithLabelValues("erase", "completed").Inc()
	s.m.seconds.WithLabelValues("erase").Observe(req.CompletedAt.Sub(req.RequestedAt).Seconds())
	if s.cfg.SweepAfter < 0 {
		return counts, nil
	}
	if s.beforeSweep != nil {
		s.beforeSweep()
	}
	select {
	case <-ctx.Done():
		return counts, fmt.Errorf("error waiting to sweep: %w", ctx.Err())
	case <-time.After(s.cfg.SweepAfter):
	}
	late, err := s.sweep(ctx, req, job, ids)
	if err != nil {
		return counts, err
	}
	counts.Profiles += late.Profiles
	counts.Identities += late.Identities
	counts.Interactions += late.Interactions
	counts.Consents += late.Consents
	counts.Memberships += late.Memberships
	counts.Suppressed += late.Suppressed
	return counts, nil
}

// sweep erases, once more, whatever reached the database carrying one of ids after the erasure
// committed: events accepted by another process in the moments before its suppression mirror
// refreshed (Config.SweepAfter covers that delay). Identifiers such an event brought along are
// suppressed too. ids stay in this process's memory only, never in a table or job.
func (s *Service) sweep(ctx context.Context, req *ent.PrivacyRequest, job int64, ids []identity.Identifier) (EraseCounts, error) {
	var counts EraseCounts
	var hashes [][32]byte
	types, values := make(pq.StringArray, len(ids)), make(pq.StringArray, len(ids))
	for i, id := range ids {
		types[i], values[i] = id.Type, id.Value
	}
	err := txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		start, err := queryIDs(ctx, tx, eraseQueries["find-subjects"], types, values)
		if err != nil {
			return fmt.Errorf("error finding late profiles: %w", err)
		}
		if len(start) == 0 {
			return nil
		}
		profiles, err := lockTree(ctx, tx, start)
		if err != nil {
			return err
		}
		all, err := subjectIdentifiers(ctx, tx, profiles, ids[0])
		if err != nil {
			return err
		}
		if counts, err = s.deleteAll(ctx, tx, req.ID, job, profiles, all); err != nil {
			return err
		}
		if counts.Suppressed, hashes, err = s.sup.insert(ctx, tx, req.ID.String(), all); err != nil {
			return err
		}
		merged := map[string]any{}
		for k, v := range req.Counts {
			merged[k] = v
		}
		merged["late"] = counts.asMap()
		if _, err := client.PrivacyRequest.UpdateOneID(req.ID).SetCounts(merged).Save(ctx); err != nil {
			return fmt.Errorf("error recording the sweep: %w", err)
		}
		s.sup.add(hashes)
		return audit.Record(ctx, client, audit.Event{
			Action: "privacy.erase_sweep", TargetType: "PrivacyRequest", TargetID: req.ID.String(),
			Details: map[string]any{"subjectHash": req.SubjectHash, "counts": counts.asMap()},
		})
	})
	if err != nil {
		return EraseCounts{}, fmt.Errorf("error sweeping after erasure: %w", err)
	}
	return counts, nil
}

// lockProfiles finds and locks every profile of the person holding subject. A merge between
// finding the tree and locking it changes the tree; it is then walked again under the locks.
func (s *Service) lockProfiles(ctx context.Context, tx *sql.Tx, subject identity.Identifier) ([]uuid.UUID, error) {
	start, err := queryIDs(ctx, tx, eraseQueries["find-subject"], subject.Type, subject.Value)
	if err != nil {
		return nil, fmt.Errorf("error finding the subject: %w", err)
	}
	return lockTree(ctx, tx, start)
}

// lockTree locks every profile of the people start belongs to.
func lockTree(ctx context.Context, tx *sql.Tx, start []uuid.UUID) ([]uuid.UUID, error) {
	var locked []uuid.UUID
	for range 5 {
		if len(start) == 0 {
			return nil, nil
		}
		tree, err := queryIDs(ctx, tx, eraseQueries["profile-tree"], pgarray.UUIDs(start))
		if err != nil {
			return nil, fmt.Errorf("error walking merged profiles: %w", err)
		}
		if slices.Equal(tree, locked) {
			return tree, nil
		}
		if locked, err = queryIDs(ctx, tx, eraseQueries["lock-customers"], pgarray.UUIDs(tree)); err != nil {
			return nil, fmt.Errorf("error locking profiles: %w", err)
		}
		start = locked
	}
	return nil, fmt.Errorf("error locking profiles: the merge tree kept changing")
}

// subjectIdentifiers returns every identifier of profiles, and subject, deduplicated.
func subjectIdentifiers(ctx context.Context, tx *sql.Tx, profiles []uuid.UUID, subject identity.Identifier) ([]identity.Identifier, error) {
	out := []identity.Identifier{subject}
	if len(profiles) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, eraseQueries["subject-identifiers"], pgarray.UUIDs(profiles))
	if err != nil {
		return nil, fmt.Errorf("error reading identifiers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id identity.Identifier
		if err := rows.Scan(&id.Type, &id.Value); err != nil {
			return nil, fmt.Errorf("error reading identifiers: %w", err)
		}
		if id != subject {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

// deleteAll removes the person everywhere: destinations first (they read the snapshot rows
// being deleted), then child rows before their customers.
func (s *Service) deleteAll(ctx context.Context, tx *sql.Tx, req uuid.UUID, job int64, profiles []uuid.UUID, ids []identity.Identifier) (EraseCounts, error) {
	var c EraseCounts
	values := make(pq.StringArray, 0, len(ids)+len(profiles))
	var emails []string
	for _, id := range ids {
		values = append(values, id.Value)
		if id.Type == identity.TypeEmail {
			emails = append(emails, id.Value)
		}
	}
	if s.dest != nil && (len(profiles) > 0 || len(emails) > 0) {
		if err := s.dest.EraseEverywhere(ctx, tx, profiles, emails); err != nil {
			return c, fmt.Errorf("error removing the person from destinations: %w", err)
		}
	}
	arr := pgarray.UUIDs(profiles)
	steps := []struct {
		query string
		n     *int
	}{
		{"delete-consents", &c.Consents}, {"delete-memberships", &c.Memberships},
		{"delete-interactions", &c.Interactions}, {"delete-identities", &c.Identities},
		{"delete-dirty", nil}, {"delete-exports", &c.Exports}, {"delete-customers", &c.Profiles},
	}
	if len(profiles) > 0 {
		for _, st := range steps {
			res, err := tx.ExecContext(ctx, eraseQueries[st.query], arr)
			if err != nil {
				return c, fmt.Errorf("error erasing (%s): %w", st.query, err)
			}
			if st.n != nil {
				k, _ := res.RowsAffected()
				*st.n = int(k)
			}
		}
	}
	res, err := tx.ExecContext(ctx, eraseQueries["clear-requests"], values, req)
	if err != nil {
		return c, fmt.Errorf("error clearing other requests: %w", err)
	}
	k, _ := res.RowsAffected()
	c.Requests = int(k)
	for _, p := range profiles {
		values = append(values, p.String())
	}
	if res, err = tx.ExecContext(ctx, eraseQueries["delete-jobs"], values, job); err != nil {
		return c, fmt.Errorf("error deleting jobs naming the person: %w", err)
	}
	k, _ = res.RowsAffected()
	c.Jobs = int(k)
	return c, nil
}

func queryIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]uuid.UUID, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
