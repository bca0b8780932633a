package campaign

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/namedsql"
	"github.com/cairn-cdp/cairn/internal/pgarray"
	"github.com/cairn-cdp/cairn/internal/txn"
)

//go:embed privacy.sql
var privacySQL string

var privacyQueries = func() map[string]string {
	qs := namedsql.MustParse("campaign: privacy.sql", privacySQL,
		"erase-targets", "erase-rows", "erase-late-rows", "sync-in-flight",
		"withdraw-targets", "withdraw-held", "withdraw-confirm", "export-person")
	r := strings.NewReplacer("{{may-email}}", "("+queries["may-email"]+")")
	for name, q := range qs {
		qs[name] = r.Replace(q)
	}
	return qs
}()

// ErrSyncInFlight means a sync that may still send an erased person to the destination is
// running; the erasure at that destination waits for it (the job snoozes).
var ErrSyncInFlight = errors.New("a sync of this destination is running")

// PrivacyQueue enqueues the destination work of erasures and withdrawals on the caller's
// transaction (jobs/ implements it with River's InsertTx).
type PrivacyQueue interface {
	// EnqueueErase enqueues the permanent deletion at destination of the emails sealed in
	// sealedEmails (SealEmails); the job must hold them only sealed.
	EnqueueErase(ctx context.Context, tx *sql.Tx, destination uuid.UUID, sealedEmails string) error
	// EnqueueWithdraw enqueues w (Privacy.Withdraw).
	EnqueueWithdraw(ctx context.Context, tx *sql.Tx, w Withdrawal) error
}

// Withdrawal removes a person who withdrew email_marketing consent from one destination.
type Withdrawal struct {
	DestinationID uuid.UUID `json:"destination_id"`
	// CustomerID is the live profile whose consent was withdrawn; Profiles are the ids its
	// snapshot rows are under (it and profiles merged into it).
	CustomerID uuid.UUID   `json:"customer_id"`
	Profiles   []uuid.UUID `json:"profiles"`
}

// Privacy is the campaign side of privacy requests (it implements privacy.Destinations):
// within the caller's transaction it deletes or reads snapshot rows and enqueues one job per
// destination concerned; the jobs (Erase, Withdraw) call the provider. DB is used by the jobs.
//
// Of the campaign tables only campaign_members names people (customer_id, email, and
// last_error, which providers keep free of emails). campaign_syncs rows hold counts, a status
// and an error built from provider errors, which never carry an email address; audit rows of
// runs hold counts only.
type Privacy struct {
	DB           *sql.DB
	Destinations *Destinations
	Queue        PrivacyQueue
}

// EraseEverywhere deletes every snapshot row naming customers or emails and enqueues, per
// destination whose campaigns held any of them, a permanent delete of the emails it held and
// of the erased emails (the same person's other addresses). The job carries them sealed.
func (p *Privacy) EraseEverywhere(ctx context.Context, tx *sql.Tx, customers []uuid.UUID, emails []string) error {
	if p.Destinations == nil || p.Destinations.Sealer == nil || p.Queue == nil {
		return errors.New("campaign privacy: destinations, sealer and queue are required")
	}
	ids, mails := pgarray.UUIDs(customers), pq.Array(nonNil(emails))
	rows, err := tx.QueryContext(ctx, privacyQueries["erase-targets"], ids, mails)
	if err != nil {
		return fmt.Errorf("error finding destinations holding the person: %w", err)
	}
	type target struct {
		destination uuid.UUID
		emails      []string
	}
	var targets []target
	for rows.Next() {
		var t target
		var held pq.StringArray
		if err := rows.Scan(&t.destination, &held); err != nil {
			rows.Close()
			return fmt.Errorf("error reading destinations holding the person: %w", err)
		}
		t.emails = union(held, emails)
		targets = append(targets, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading destinations holding the person: %w", err)
	}
	if _, err := tx.ExecContext(ctx, privacyQueries["erase-rows"], ids, mails); err != nil {
		return fmt.Errorf("error deleting campaign snapshot rows: %w", err)
	}
	for _, t := range targets {
		sealed, err := p.sealEmails(t.emails)
		if err != nil {
			return err
		}
		if err := p.Queue.EnqueueErase(ctx, tx, t.destination, sealed); err != nil {
			return fmt.Errorf("error enqueueing erasure at destination: %w", err)
		}
	}
	return nil
}

// WithdrawEverywhere enqueues, per destination holding customer (or a profile merged into
// it), the removal of the person there.
func (p *Privacy) WithdrawEverywhere(ctx context.Context, tx *sql.Tx, customer uuid.UUID) error {
	if p.Queue == nil {
		return errors.New("campaign privacy: queue is required")
	}
	rows, err := tx.QueryContext(ctx, privacyQueries["withdraw-targets"], customer)
	if err != nil {
		return fmt.Errorf("error finding destinations holding the person: %w", err)
	}
	var ws []Withdrawal
	for rows.Next() {
		w := Withdrawal{CustomerID: customer}
		var profiles pq.StringArray
		if err := rows.Scan(&w.DestinationID, &profiles); err != nil {
			rows.Close()
			return fmt.Errorf("error reading destinations holding the person: %w", err)
		}
		for _, s := range profiles {
			id, err := uuid.Parse(s)
			if err != nil {
				rows.Close()
				return fmt.Errorf("error reading destinations holding the person: %w", err)
			}
			w.Profiles = append(w.Profiles, id)
		}
		ws = append(ws, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading destinations holding the person: %w", err)
	}
	for _, w := range ws {
		if err := p.Queue.EnqueueWithdraw(ctx, tx, w); err != nil {
			return fmt.Errorf("error enqueueing removal at destination: %w", err)
		}
	}
	return nil
}

// Erase permanently deletes the sealed emails at destination, then deletes snapshot rows a
// sync running at erasure time wrote for them. It returns ErrNotFound (wrapped) when the
// destination no longer exists, ErrSyncInFlight while a sync attempt begun before since (the
// erasure) runs on the destination, and an error naming counts only when the provider refused
// some contacts (retry). A disabled destination is erased at all the same: erasure is owed.
func (p *Privacy) Erase(ctx context.Context, destination uuid.UUID, sealedEmails string, since time.Time) error {
	dst, err := txn.NewClient(p.DB).Destination.Get(ctx, destination)
	if err != nil {
		return notFound(err, "destination", destination)
	}
	var busy bool
	if err := p.DB.QueryRowContext(ctx, privacyQueries["sync-in-flight"], destination, since).Scan(&busy); err != nil {
		return fmt.Errorf("error checking running syncs: %w", err)
	}
	if busy {
		return ErrSyncInFlight
	}
	emails, err := p.openEmails(sealedEmails)
	if err != nil {
		return err
	}
	prov, err := p.Destinations.Provider(dst)
	if err != nil {
		return err
	}
	res, err := prov.Erase(ctx, emails)
	if err != nil {
		return fmt.Errorf("error erasing contacts at destination: %w", err)
	}
	if err := refused("erase", res); err != nil {
		return err
	}
	if _, err := p.DB.ExecContext(context.WithoutCancel(ctx), privacyQueries["erase-late-rows"], destination, pq.Array(emails)); err != nil {
		return fmt.Errorf("error deleting late campaign snapshot rows: %w", err)
	}
	return nil
}

// Withdraw removes w's person from its destination (Mailchimp: out of the audience segment
// and archived) and marks the confirmed snapshot rows removed. Nothing is sent when the
// destination holds nothing for them any more or the person granted email_marketing again.
// It returns ErrNotFound (wrapped) when the destination no longer exists.
func (p *Privacy) Withdraw(ctx context.Context, w Withdrawal) error {
	dst, err := txn.NewClient(p.DB).Destination.Get(ctx, w.DestinationID)
	if err != nil {
		return notFound(err, "destination", w.DestinationID)
	}
	profiles := pgarray.UUIDs(w.Profiles)
	var emails []string
	rows, err := p.DB.QueryContext(ctx, privacyQueries["withdraw-held"], w.DestinationID, profiles, w.CustomerID)
	if err != nil {
		return fmt.Errorf("error reading held contacts: %w", err)
	}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			rows.Close()
			return fmt.Errorf("error reading held contacts: %w", err)
		}
		emails = append(emails, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading held contacts: %w", err)
	}
	if len(emails) == 0 {
		return nil
	}
	prov, err := p.Destinations.Provider(dst)
	if err != nil {
		return err
	}
	res, err := prov.Remove(ctx, emails)
	if err != nil && len(res.Confirmed) == 0 {
		return fmt.Errorf("error removing contacts at destination: %w", err)
	}
	failed := failures(res)
	var done []string
	for _, e := range emails {
		if _, bad := failed[e]; bad {
			continue
		}
		if err == nil || slices.Contains(res.Confirmed, e) {
			done = append(done, e)
		}
	}
	if len(done) > 0 {
		if _, xerr := p.DB.ExecContext(context.WithoutCancel(ctx), privacyQueries["withdraw-confirm"],
			w.DestinationID, profiles, pq.Array(done)); xerr != nil {
			return fmt.Errorf("error recording removed contacts: %w", xerr)
		}
	}
	if err != nil {
		return fmt.Errorf("error removing contacts at destination: %w", err)
	}
	return refused("remove", res)
}

// refused is an error counting the contacts the provider rejected, with their codes (never
// their emails), or nil.
func refused(op string, res provider.Result) error {
	if len(res.Failed) == 0 {
		return nil
	}
	codes := map[string]bool{}
	var list []string
	for _, f := range res.Failed {
		if c := f.Code; c != "" && !codes[c] {
			codes[c] = true
			list = append(list, c)
		}
	}
	return fmt.Errorf("destination refused to %s %d contact(s) (%s)", op, len(res.Failed), strings.Join(list, ", "))
}

// sealEmails seals a list of emails for a job's args.
func (p *Privacy) sealEmails(emails []string) (string, error) {
	raw, err := json.Marshal(emails)
	if err != nil {
		return "", err
	}
	s, err := p.Destinations.Sealer.Seal(raw)
	if err != nil {
		return "", fmt.Errorf("error sealing emails: %w", err)
	}
	return s, nil
}

func (p *Privacy) openEmails(sealed string) ([]string, error) {
	if p.Destinations == nil || p.Destinations.Sealer == nil {
		return nil, errors.New("cannot open sealed emails: no secret sealer is configured")
	}
	raw, err := p.Destinations.Sealer.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("error opening sealed emails (was CAIRN_SECRET_KEY changed?): %w", err)
	}
	var emails []string
	if err := json.Unmarshal(raw, &emails); err != nil {
		return nil, fmt.Errorf("error reading sealed emails: %w", err)
	}
	return emails, nil
}

// union returns a's values then b's not in a, without empties or repeats.
func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
