package privacy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/identity"
	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// preferencePurpose signs preference-page tokens. A token is the capability to read and change
// one person's consents and download their data until it expires; it names the customer id
// only (no identifier), and links of a merged-away profile follow the merge.
const preferencePurpose = "cairn/privacy/preferences/v1"

// PreferenceSource is the consent source recorded for changes made on the preference page.
const PreferenceSource = "preference_page"

type preferenceClaims struct {
	Customer uuid.UUID `json:"c"`
	Expires  int64     `json:"e"`
}

// PreferenceToken returns a signed token for customer's preference page, valid for the
// configured PreferenceTTL.
func (s *Service) PreferenceToken(customer uuid.UUID) string {
	raw, _ := json.Marshal(preferenceClaims{Customer: customer, Expires: s.cfg.Now().Add(s.cfg.PreferenceTTL).Unix()})
	return s.box.Sign(preferencePurpose, raw)
}

// Preferences is what the preference page shows.
type Preferences struct {
	Purposes  []ConsentState
	ExpiresAt time.Time
}

// preferenceSubject checks token and returns the live customer it names; every failure
// (altered, expired, erased person) is ErrToken.
func (s *Service) preferenceSubject(ctx context.Context, client *ent.Client, token string) (uuid.UUID, time.Time, error) {
	payload, err := s.box.Verify(preferencePurpose, token)
	if err != nil {
		return uuid.Nil, time.Time{}, ErrToken
	}
	var c preferenceClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Customer == uuid.Nil {
		return uuid.Nil, time.Time{}, ErrToken
	}
	exp := time.Unix(c.Expires, 0)
	if !s.cfg.Now().Before(exp) {
		return uuid.Nil, time.Time{}, ErrToken
	}
	id, err := liveCustomer(ctx, client, c.Customer)
	if err != nil {
		return uuid.Nil, time.Time{}, ErrToken
	}
	return id, exp, nil
}

// Preferences returns the consent state behind token.
func (s *Service) Preferences(ctx context.Context, token string) (*Preferences, error) {
	client := txn.NewClient(s.db)
	id, exp, err := s.preferenceSubject(ctx, client, token)
	if err != nil {
		return nil, err
	}
	states, err := s.ConsentStates(ctx, client, id)
	if err != nil {
		return nil, err
	}
	return &Preferences{Purposes: states, ExpiresAt: exp}, nil
}

// SetPreference records the person's own decision for purpose through token (source
// preference_page; a withdrawal of email_marketing reaches every destination) and returns the
// new state.
func (s *Service) SetPreference(ctx context.Context, token, purpose string, granted bool) (*Preferences, error) {
	in := ConsentInput{Purpose: purpose, Granted: granted, Source: PreferenceSource,
		Proof: map[string]any{"via": "signed preference link"}}
	var exp time.Time
	err := txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		id, e, err := s.preferenceSubject(ctx, client, token)
		if err != nil {
			return err
		}
		exp = e
		in.CustomerID = &id
		if err := s.validateConsent(&in); err != nil {
			return err
		}
		_, err = s.recordConsentTx(ctx, tx, client, "subject", id, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	states, err := s.ConsentStates(ctx, txn.NewClient(s.db), *in.CustomerID)
	if err != nil {
		return nil, err
	}
	return &Preferences{Purposes: states, ExpiresAt: exp}, nil
}

// ExportForPreferences builds the export of the person behind token at once (one person's
// data, built inside Postgres) and returns its one-time download token.
func (s *Service) ExportForPreferences(ctx context.Context, token string) (string, error) {
	var req *ent.PrivacyRequest
	err := txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		id, _, err := s.preferenceSubject(ctx, client, token)
		if err != nil {
			return err
		}
		// The request names the person by their highest-priority identifier, as any request does.
		idn, err := client.Identity.Query().Where(identity.CustomerID(id)).
			Order(ent.Asc(identity.FieldType), ent.Asc(identity.FieldValue)).All(ctx)
		if err != nil {
			return fmt.Errorf("error loading identifiers: %w", err)
		}
		if len(idn) == 0 {
			return ErrToken
		}
		pick := idn[0]
		for _, i := range idn {
			if i.Type == "user_id" {
				pick = i
			}
		}
		if req, err = client.PrivacyRequest.Create().SetKind(privacyrequest.KindExport).
			SetIdentityType(pick.Type).SetIdentityValue(pick.Value).
			SetSubjectHash(s.sup.HashHex(pick.Type, pick.Value)).SetRequestedAt(s.cfg.Now()).Save(ctx); err != nil {
			return fmt.Errorf("error recording the export request: %w", err)
		}
		return audit.Record(ctx, client, audit.Event{
			Actor: "subject", Action: "privacy.export_request", TargetType: "PrivacyRequest",
			TargetID: req.ID.String(), Details: map[string]any{"identityType": pick.Type, "via": PreferenceSource},
		})
	})
	if err != nil {
		return "", err
	}
	if s.beforeExportBuild != nil {
		s.beforeExportBuild()
	}
	if err := s.BuildExport(ctx, req.ID); err != nil {
		// No job runs this request, so a failed build fails it rather than leave it pending.
		// The caller's context may be what ended the build: the update runs without it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ferr := s.markFailed(fctx, req.ID, "building the export failed; the person can ask again"); ferr != nil {
			return "", errors.Join(err, ferr)
		}
		return "", err
	}
	return s.ExportToken(ctx, req.ID)
}
