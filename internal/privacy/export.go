package privacy

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/namedsql"
	"github.com/cairn-cdp/cairn/internal/pgarray"
	"github.com/cairn-cdp/cairn/internal/txn"
)

//go:embed export.sql
var exportSQL string

var exportQueries = namedsql.MustParse("export.sql", exportSQL,
	"export-profiles", "export-identities", "export-interactions", "export-consents", "export-memberships")

// exportSections are the document's members built by exportQueries, in document order.
var exportSections = []struct{ key, query string }{
	{"profiles", "export-profiles"}, {"identities", "export-identities"},
	{"interactions", "export-interactions"}, {"consents", "export-consents"},
	{"segmentMemberships", "export-memberships"},
}

// DestinationExporter is implemented by a Destinations that can also describe what the
// campaign side holds on a person (snapshot rows, syncs, tracking events); the export then
// includes it as "campaigns".
type DestinationExporter interface {
	ExportPerson(ctx context.Context, tx *sql.Tx, customers []uuid.UUID, emails []string) (any, error)
}

// RequestExport records an export request for the person holding the identifier and enqueues
// the job that builds the document (BuildExport).
func (s *Service) RequestExport(ctx context.Context, actor, typ, value string) (*ent.PrivacyRequest, error) {
	return s.request(ctx, actor, privacyrequest.KindExport, typ, value)
}

// BuildExport builds the document of export request id: everything held on every profile of the
// person (merged-away ones too). The document is kept apart from the request, downloadable once
// through ExportToken's link until it expires; the request keeps counts and the subject's hash
// only. A completed request is left as is.
func (s *Service) BuildExport(ctx context.Context, id uuid.UUID) error {
	var req *ent.PrivacyRequest
	err := txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		var subject *identity.Identifier
		var err error
		req, subject, err = lockRequest(ctx, client, id, privacyrequest.KindExport)
		if err != nil || subject == nil {
			req = nil
			return err
		}
		doc, profiles, counts, err := s.exportDocument(ctx, tx, *subject)
		if err != nil {
			return err
		}
		doc["request"] = map[string]any{"id": req.ID, "requestedAt": req.RequestedAt}
		raw, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("error encoding export: %w", err)
		}
		now := s.cfg.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO privacy_export_documents (request_id, customer_ids, document, expires_at)
			VALUES ($1, $2, $3, $4)`, req.ID, pgarray.UUIDs(profiles), raw, now.Add(s.cfg.ExportTTL)); err != nil {
			return fmt.Errorf("error storing export: %w", err)
		}
		if req, err = client.PrivacyRequest.UpdateOne(req).SetStatus(privacyrequest.StatusCompleted).
			SetCompletedAt(now).ClearIdentityValue().SetCounts(counts).Save(ctx); err != nil {
			return fmt.Errorf("error completing export request: %w", err)
		}
		return audit.Record(ctx, client, audit.Event{
			Action: "privacy.export_complete", TargetType: "PrivacyRequest", TargetID: req.ID.String(),
			Details: map[string]any{"subjectHash": req.SubjectHash, "counts": counts},
		})
	})
	if err != nil {
		s.m.requests.WithLabelValues("export", "failed").Inc()
		return err
	}
	if req != nil && req.CompletedAt != nil {
		s.m.requests.WithLabelValues("export", "completed").Inc()
		s.m.seconds.WithLabelValues("export").Observe(req.CompletedAt.Sub(req.RequestedAt).Seconds())
	}
	return nil
}

// exportDocument builds the document of the person holding subject.
func (s *Service) exportDocument(ctx context.Context, tx *sql.Tx, subject identity.Identifier) (map[string]any, []uuid.UUID, map[string]any, error) {
	start, err := queryIDs(ctx, tx, eraseQueries["find-subject"], subject.Type, subject.Value)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("error finding the subject: %w", err)
	}
	var profiles []uuid.UUID
	if len(start) > 0 {
		if profiles, err = queryIDs(ctx, tx, eraseQueries["profile-tree"], pgarray.UUIDs(start)); err != nil {
			return nil, nil, nil, fmt.Errorf("error walking merged profiles: %w", err)
		}
	}
	doc := map[string]any{
		"generatedAt": s.cfg.Now().UTC(),
		"subject":     map[string]any{"identityType": subject.Type},
		"about": "Everything Cairn holds on this person: every profile (including profiles merged " +
			"into another), identifiers, traits, interactions, consents, segment memberships and RFM scores.",
	}
	counts := map[string]any{"profiles": len(profiles)}
	for _, sec := range exportSections {
		var raw json.RawMessage
		if err := tx.QueryRowContext(ctx, exportQueries[sec.query], pgarray.UUIDs(profiles)).Scan(&raw); err != nil {
			return nil, nil, nil, fmt.Errorf("error exporting %s: %w", sec.key, err)
		}
		doc[sec.key] = raw
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err == nil {
			counts[sec.key] = len(items)
		}
	}
	if ex, ok := s.dest.(DestinationExporter); ok && len(profiles) > 0 {
		ids, err := subjectIdentifiers(ctx, tx, profiles, subject)
		if err != nil {
			return nil, nil, nil, err
		}
		var emails []string
		for _, id := range ids {
			if id.Type == identity.TypeEmail {
				emails = append(emails, id.Value)
			}
		}
		c, err := ex.ExportPerson(ctx, tx, profiles, emails)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("error exporting campaign data: %w", err)
		}
		doc["campaigns"] = c
	}
	return doc, profiles, counts, nil
}

// exportPurpose signs export download tokens.
const exportPurpose = "cairn/privacy/export/v1"

type exportClaims struct {
	Request uuid.UUID `json:"r"`
	Expires int64     `json:"e"`
}

// ExportToken returns the token of the download link of export request id's document, or ""
// when no document is waiting (not built yet, downloaded, or expired).
func (s *Service) ExportToken(ctx context.Context, id uuid.UUID) (string, error) {
	var expires time.Time
	err := s.db.QueryRowContext(ctx, `SELECT expires_at FROM privacy_export_documents WHERE request_id = $1 AND expires_at > now()`, id).Scan(&expires)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("error reading export: %w", err)
	}
	raw, err := json.Marshal(exportClaims{Request: id, Expires: expires.Unix()})
	if err != nil {
		return "", err
	}
	return s.box.Sign(exportPurpose, raw), nil
}

// DownloadExport returns the document a token names and deletes it, so the link works once. An
// altered, expired or used token is ErrToken and returns nothing.
func (s *Service) DownloadExport(ctx context.Context, token string) ([]byte, error) {
	payload, err := s.box.Verify(exportPurpose, token)
	if err != nil {
		return nil, ErrToken
	}
	var c exportClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Request == uuid.Nil {
		return nil, ErrToken
	}
	if s.cfg.Now().Unix() >= c.Expires {
		return nil, ErrToken
	}
	var doc []byte
	err = txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM privacy_export_documents WHERE request_id = $1 AND expires_at > $2
			RETURNING document`, c.Request, s.cfg.Now()).Scan(&doc)
		if err == sql.ErrNoRows {
			return ErrToken
		}
		if err != nil {
			return fmt.Errorf("error reading export: %w", err)
		}
		return audit.Record(ctx, client, audit.Event{
			Actor: "subject", Action: "privacy.export_download", TargetType: "PrivacyRequest", TargetID: c.Request.String(),
		})
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// DeleteExpiredExports deletes documents past their expiry and returns how many.
func (s *Service) DeleteExpiredExports(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM privacy_export_documents WHERE expires_at <= $1`, s.cfg.Now())
	if err != nil {
		return 0, fmt.Errorf("error deleting expired exports: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
