package privacy

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/consent"
	"github.com/cairn-cdp/cairn/ent/customer"
	"github.com/cairn-cdp/cairn/ent/identity"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Purposes are the consent purposes Cairn knows, in display order.
var Purposes = []string{"email_marketing", "sms_marketing", "analytics", "personalization"}

// PurposeEmailMarketing is the purpose whose withdrawal removes the person from destinations.
const PurposeEmailMarketing = "email_marketing"

// maxProofBytes bounds a consent's proof (a form id, a checkbox text, a request id).
const maxProofBytes = 4 << 10

// ConsentInput is one consent decision: about CustomerID, or the customer holding the
// identifier (IdentityType, IdentityValue).
type ConsentInput struct {
	CustomerID    *uuid.UUID
	IdentityType  string
	IdentityValue string
	Purpose       string
	Granted       bool
	Source        string
	Proof         map[string]any
}

// RecordConsent stores a decision (history is kept; the latest per purpose wins) and, for a
// withdrawal of email_marketing, enqueues the person's removal from every destination in the
// same transaction. A merged-away customer id records on its survivor.
func (s *Service) RecordConsent(ctx context.Context, actor string, in ConsentInput) (*ent.Consent, error) {
	if err := s.validateConsent(&in); err != nil {
		return nil, err
	}
	var out *ent.Consent
	err := txn.Run(ctx, s.db, func(ctx context.Context, tx *sql.Tx, client *ent.Client) error {
		id, err := s.consentSubject(ctx, client, in)
		if err != nil {
			return err
		}
		if out, err = s.recordConsentTx(ctx, tx, client, actor, id, in); err != nil {
			return err
		}
		return nil
	})
	return out, err
}

func (s *Service) recordConsentTx(ctx context.Context, tx *sql.Tx, client *ent.Client, actor string, id uuid.UUID, in ConsentInput) (*ent.Consent, error) {
	// Consent rules change with the decision: the customer is queued for incremental segment
	// re-evaluation under the queue barrier (migration segment_queue_barrier), taken before the
	// insert's row lock on the customer.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared(7395118264530126722)`); err != nil {
		return nil, fmt.Errorf("error holding the segment queue barrier: %w", err)
	}
	c, err := client.Consent.Create().SetCustomerID(id).SetPurpose(in.Purpose).SetGranted(in.Granted).
		SetSource(in.Source).SetProof(in.Proof).SetRecordedAt(s.cfg.Now()).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("error recording consent: %w", err)
	}
	if !in.Granted && in.Purpose == PurposeEmailMarketing && s.dest != nil {
		if err := s.dest.WithdrawEverywhere(ctx, tx, id); err != nil {
			return nil, fmt.Errorf("error enqueueing removal from destinations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO segment_dirty_customers (customer_id)
		SELECT $1 WHERE EXISTS (SELECT 1 FROM segments)`, id); err != nil {
		return nil, fmt.Errorf("error queueing the customer for segments: %w", err)
	}
	// source and proof are free text from the caller and stay out of the audit row, which must
	// never hold an identifier.
	if err := audit.Record(ctx, client, audit.Event{
		Actor: actor, Action: "consent.record", TargetType: "Customer", TargetID: id.String(),
		Details: map[string]any{"consent": c.ID.String(), "purpose": in.Purpose, "granted": in.Granted},
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) validateConsent(in *ConsentInput) error {
	in.Purpose = strings.TrimSpace(in.Purpose)
	if !slices.Contains(Purposes, in.Purpose) {
		return fmt.Errorf("%w: purpose must be one of %s", ErrInvalidInput, strings.Join(Purposes, ", "))
	}
	if (in.CustomerID == nil) == (in.IdentityType == "") {
		return fmt.Errorf("%w: give exactly one of customerId and identity", ErrInvalidInput)
	}
	if len(in.Source) > 256 {
		return fmt.Errorf("%w: source is longer than 256 characters", ErrInvalidInput)
	}
	if n := jsonSize(in.Proof); n > maxProofBytes {
		return fmt.Errorf("%w: proof is larger than %d bytes", ErrInvalidInput, maxProofBytes)
	}
	return nil
}

// consentSubject resolves the input to a live customer id.
func (s *Service) consentSubject(ctx context.Context, client *ent.Client, in ConsentInput) (uuid.UUID, error) {
	id := uuid.Nil
	if in.CustomerID != nil {
		id = *in.CustomerID
	} else {
		v, err := s.normalize(in.IdentityType, in.IdentityValue)
		if err != nil {
			return uuid.Nil, err
		}
		idn, err := client.Identity.Query().Where(identity.Type(in.IdentityType), identity.Value(v)).Only(ctx)
		if ent.IsNotFound(err) {
			return uuid.Nil, fmt.Errorf("%w: no customer holds that %s", ErrNotFound, in.IdentityType)
		}
		if err != nil {
			return uuid.Nil, fmt.Errorf("error finding the customer: %w", err)
		}
		id = idn.CustomerID
	}
	return liveCustomer(ctx, client, id)
}

// liveCustomer follows merged_into from id to the live profile.
func liveCustomer(ctx context.Context, client *ent.Client, id uuid.UUID) (uuid.UUID, error) {
	for range 32 {
		c, err := client.Customer.Query().Where(customer.ID(id)).Select(customer.FieldMergedIntoID).Only(ctx)
		if ent.IsNotFound(err) {
			return uuid.Nil, fmt.Errorf("%w: customer %s", ErrNotFound, id)
		}
		if err != nil {
			return uuid.Nil, fmt.Errorf("error loading customer: %w", err)
		}
		if c.MergedIntoID == nil {
			return id, nil
		}
		id = *c.MergedIntoID
	}
	return uuid.Nil, fmt.Errorf("error loading customer %s: merge chain too long", id)
}

// ConsentHistory returns every decision about customer, newest first.
func (s *Service) ConsentHistory(ctx context.Context, client *ent.Client, customerID uuid.UUID) ([]*ent.Consent, error) {
	out, err := client.Consent.Query().Where(consent.CustomerID(customerID)).
		Order(ent.Desc(consent.FieldRecordedAt), ent.Desc(consent.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("error loading consents: %w", err)
	}
	return out, nil
}

// ConsentState is the current decision for one purpose; Granted is nil when none was recorded.
type ConsentState struct {
	Purpose    string
	Granted    *bool
	Source     string
	RecordedAt *time.Time
}

// ConsentStates returns the latest decision per known purpose (every purpose listed, in
// Purposes order), then any other purposes recorded.
func (s *Service) ConsentStates(ctx context.Context, client *ent.Client, customerID uuid.UUID) ([]ConsentState, error) {
	history, err := s.ConsentHistory(ctx, client, customerID)
	if err != nil {
		return nil, err
	}
	return latestPerPurpose(history), nil
}

func latestPerPurpose(history []*ent.Consent) []ConsentState {
	latest := map[string]*ent.Consent{}
	var extra []string
	for _, c := range history { // newest first
		if _, ok := latest[c.Purpose]; !ok {
			latest[c.Purpose] = c
			if !slices.Contains(Purposes, c.Purpose) {
				extra = append(extra, c.Purpose)
			}
		}
	}
	slices.Sort(extra)
	var out []ConsentState
	for _, p := range append(slices.Clone(Purposes), extra...) {
		st := ConsentState{Purpose: p}
		if c := latest[p]; c != nil {
			g, at := c.Granted, c.RecordedAt
			st.Granted, st.Source, st.RecordedAt = &g, c.Source, &at
		}
		out = append(out, st)
	}
	return out
}

// NewestFirst sorts decisions newest first (ties by id, which is time-ordered) in place and
// returns them.
func NewestFirst(cs []*ent.Consent) []*ent.Consent {
	slices.SortStableFunc(cs, func(a, b *ent.Consent) int {
		if c := b.RecordedAt.Compare(a.RecordedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID.String(), a.ID.String())
	})
	return cs
}

// LatestPerPurpose is the current state per purpose of a customer's decisions (any order).
func LatestPerPurpose(cs []*ent.Consent) []ConsentState {
	return latestPerPurpose(NewestFirst(slices.Clone(cs)))
}

// PreferenceLink returns the preference page path for a live customer (a merged-away id gives
// its survivor's link).
func (s *Service) PreferenceLink(ctx context.Context, client *ent.Client, customerID uuid.UUID) (string, error) {
	id, err := liveCustomer(ctx, client, customerID)
	if err != nil {
		return "", err
	}
	return "/preferences/" + s.PreferenceToken(id), nil
}
