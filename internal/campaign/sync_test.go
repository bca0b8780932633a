package campaign

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/campaignmember"
	"github.com/cairn-cdp/cairn/ent/campaignsync"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
)

func (b *bundle) run(t *testing.T, c *ent.Campaign) *ent.CampaignSync {
	t.Helper()
	from := len(b.fake.ledger)
	run, err := b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual})
	require.NoError(t, err)
	require.Equal(t, campaignsync.StatusSucceeded, run.Status)
	for contact, n := range b.fake.sent(from) {
		require.Equal(t, 1, n, "%s sent %d times in one run", contact, n)
	}
	return run
}

type counts struct{ added, updated, removed, failed, noEmail, noConsent int }

func countsOf(r *ent.CampaignSync) counts {
	return counts{r.Added, r.Updated, r.Removed, r.Failed, r.SkippedNoEmail, r.SkippedNoConsent}
}

func TestSyncFirstRunThenDeltas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	yes, no := true, false
	ann := b.customer(t, customerOpts{email: "ann@example.com", consent: &yes, traits: `{"first_name":"Ann"}`})
	bob := b.customer(t, customerOpts{email: "bob@example.com", consent: &yes, traits: `{"first_name":"Bob"}`})
	cat := b.customer(t, customerOpts{email: "cat@example.com", consent: &yes})
	dan := b.customer(t, customerOpts{email: "dan@example.com", consent: &no})  // denied
	eve := b.customer(t, customerOpts{email: "eve@example.com"})                // no decision
	fay := b.customer(t, customerOpts{consent: &yes})                           // no email
	gus := b.customer(t, customerOpts{email: "gus@example.com", consent: &yes}) // not a member yet
	b.join(t, seg, ann, bob, cat, dan, eve, fay)
	c := b.campaign(t, seg, map[string]string{"FNAME": "trait:first_name", "EMAIL": "email", "CID": "customer_id"})

	want := func(email, first string, id uuid.UUID) (string, map[string]string) {
		return email, map[string]string{"FNAME": first, "EMAIL": email, "CID": id.String()}
	}
	audience := func(entries ...any) map[string]map[string]string {
		out := map[string]map[string]string{}
		for i := 0; i < len(entries); i += 3 {
			e, f := want(entries[i].(string), entries[i+1].(string), entries[i+2].(uuid.UUID))
			out[e] = f
		}
		return out
	}

	// First run: the full audience, in pages of two.
	run := b.run(t, c)
	require.Equal(t, counts{added: 3, noEmail: 1, noConsent: 2}, countsOf(run))
	require.Equal(t, audience("ann@example.com", "Ann", ann, "bob@example.com", "Bob", bob, "cat@example.com", "", cat), b.fake.snapshot())

	// Nothing changed: nothing is sent.
	calls := len(b.fake.ledger)
	run = b.run(t, c)
	require.Equal(t, counts{noEmail: 1, noConsent: 2}, countsOf(run))
	require.Len(t, b.fake.ledger, calls)

	// gus enters, bob leaves, ann changes a merge field, cat withdraws consent, dan grants.
	b.join(t, seg, gus)
	b.leave(t, seg, bob)
	b.exec(t, `UPDATE customers SET traits = '{"first_name":"Annie"}' WHERE id = $1`, ann)
	b.consent(t, cat, false)
	b.consent(t, dan, true)
	run = b.run(t, c)
	require.Equal(t, counts{added: 2, updated: 1, removed: 2, noEmail: 1, noConsent: 2}, countsOf(run))
	require.Equal(t, audience("ann@example.com", "Annie", ann, "dan@example.com", "", dan, "gus@example.com", "", gus), b.fake.snapshot())

	// ann loses her email, gus changes his: ann is removed, gus's old address removed and the
	// new one added.
	b.exec(t, `UPDATE customers SET email = NULL WHERE id = $1`, ann)
	b.exec(t, `UPDATE customers SET email = 'gus@new.example.com' WHERE id = $1`, gus)
	run = b.run(t, c)
	require.Equal(t, counts{added: 1, removed: 2, noEmail: 2, noConsent: 2}, countsOf(run))
	require.Equal(t, audience("dan@example.com", "", dan, "gus@new.example.com", "", gus), b.fake.snapshot())

	// bob comes back.
	b.join(t, seg, bob)
	run = b.run(t, c)
	require.Equal(t, counts{added: 1, noEmail: 2, noConsent: 2}, countsOf(run))
	require.Equal(t, audience("bob@example.com", "Bob", bob, "dan@example.com", "", dan, "gus@new.example.com", "", gus), b.fake.snapshot())

	// One audit event per run, without contacts.
	events, err := b.client.AuditEvent.Query().All(b.ctx)
	require.NoError(t, err)
	require.Len(t, events, 5)
	for _, e := range events {
		require.Equal(t, "campaign.sync", e.Action)
		require.Equal(t, c.ID.String(), e.TargetID)
		require.NotContains(t, e.Details, "email")
	}
}

func TestSyncResumesAfterCancelledRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	yes := true
	var ids []uuid.UUID
	for _, e := range []string{"a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io", "g@x.io"} {
		ids = append(ids, b.customer(t, customerOpts{email: e, consent: &yes}))
	}
	b.join(t, seg, ids...)
	c := b.campaign(t, seg, nil)
	jobID := int64(42)

	// The worker stops after the second page was confirmed.
	ctx, cancel := context.WithCancel(b.ctx)
	b.fake.cancel, b.fake.cancelAfter = cancel, 2
	_, err := b.syncer.Run(ctx, c.ID, RunOptions{Trigger: TriggerManual, JobID: &jobID})
	require.ErrorIs(t, err, context.Canceled)
	running, err := b.client.CampaignSync.Query().Only(b.ctx)
	require.NoError(t, err)
	require.Equal(t, campaignsync.StatusRunning, running.Status)
	require.Len(t, b.fake.ledger, 2)
	require.Equal(t, len(b.fake.sent(0)), running.Added, "both confirmed calls are recorded")
	b.fake.cancel = nil

	// Another job cannot start a run while the first job may still run it.
	b.exec(t, `INSERT INTO river_job (id, kind, max_attempts, state, args, attempt, attempted_at)
		VALUES ($1, 'campaign_sync', 25, 'retryable', '{}', 1, now())`, jobID)
	other := int64(43)
	_, err = b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual, JobID: &other})
	require.ErrorIs(t, err, ErrConflict)

	// The job's next attempt resumes the same sync and sends only what is missing.
	run, err := b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual, JobID: &jobID})
	require.NoError(t, err)
	require.Equal(t, running.ID, run.ID)
	require.Equal(t, campaignsync.StatusSucceeded, run.Status)
	require.Equal(t, 7, run.Added)
	for contact, n := range b.fake.sent(0) {
		require.Equal(t, 1, n, "%s sent %d times", contact, n)
	}
	require.Len(t, b.fake.snapshot(), 7)
}

func TestSyncTakesOverAnAbandonedRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	yes := true
	b.join(t, seg, b.customer(t, customerOpts{email: "a@x.io", consent: &yes}), b.customer(t, customerOpts{email: "b@x.io", consent: &yes}),
		b.customer(t, customerOpts{email: "c@x.io", consent: &yes}))
	c := b.campaign(t, seg, nil)
	ctx, cancel := context.WithCancel(b.ctx)
	b.fake.cancel, b.fake.cancelAfter = cancel, 1
	dead := int64(1001) // no such River job: it was discarded and cleaned away
	first, err := b.syncer.Run(ctx, c.ID, RunOptions{Trigger: TriggerManual, JobID: &dead})
	require.ErrorIs(t, err, context.Canceled)
	b.fake.cancel = nil

	next := int64(1002)
	run, err := b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual, JobID: &next})
	require.NoError(t, err)
	require.NotEqual(t, first.ID, run.ID)
	require.Equal(t, 3-len(b.fake.ledger[0]), run.Added, "the abandoned run's confirmed call is not sent again")
	abandoned, err := b.client.CampaignSync.Get(b.ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, campaignsync.StatusFailed, abandoned.Status)
	require.Contains(t, abandoned.Error, "abandoned")
	for contact, n := range b.fake.sent(0) {
		require.Equal(t, 1, n, "%s sent %d times", contact, n)
	}
}

func TestSyncRecordsRejectedContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	yes := true
	ok := b.customer(t, customerOpts{email: "ok@x.io", consent: &yes})
	bad := b.customer(t, customerOpts{email: "bad@x.io", consent: &yes})
	b.join(t, seg, ok, bad)
	c := b.campaign(t, seg, nil)
	b.fake.reject["bad@x.io"] = "ERROR_CONTACT_EXISTS"

	run := b.run(t, c)
	require.Equal(t, counts{added: 1, failed: 1}, countsOf(run))
	m, err := b.client.CampaignMember.Query().Where(campaignmember.CustomerID(bad)).Only(b.ctx)
	require.NoError(t, err)
	require.Equal(t, campaignmember.StateFailed, m.State)
	require.Equal(t, "ERROR_CONTACT_EXISTS: rejected", m.LastError)
	require.Empty(t, m.PayloadHash, "the destination holds nothing for a rejected new contact")

	// The next run tries the rejected contact again (once); accepted, it is synced.
	delete(b.fake.reject, "bad@x.io")
	run = b.run(t, c)
	require.Equal(t, counts{added: 1}, countsOf(run))
	m, err = b.client.CampaignMember.Query().Where(campaignmember.CustomerID(bad)).Only(b.ctx)
	require.NoError(t, err)
	require.Equal(t, campaignmember.StateSynced, m.State)
	require.Empty(t, m.LastError)
}

func TestSyncFailsOnTheLastAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	yes := true
	b.join(t, seg, b.customer(t, customerOpts{email: "a@x.io", consent: &yes}))
	c := b.campaign(t, seg, nil)
	b.fake.failCalls = 2
	job := int64(7)

	run, err := b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual, JobID: &job})
	require.ErrorContains(t, err, "503")
	require.Equal(t, campaignsync.StatusRunning, run.Status)
	require.Contains(t, run.Error, "503")

	run, err = b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerManual, JobID: &job, Final: true})
	require.Error(t, err)
	require.Equal(t, campaignsync.StatusFailed, run.Status)
	require.NotNil(t, run.FinishedAt)
	require.Empty(t, b.fake.snapshot())
	n, err := b.client.CampaignMember.Query().Count(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing confirmed, nothing in the snapshot")
}

func TestSyncTriggers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	c := b.campaign(t, seg, nil)

	// A draft campaign has no scheduled slots and no deltas.
	_, err := b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerSchedule})
	require.ErrorIs(t, err, ErrSkipped)
	_, err = b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerSegment})
	require.ErrorIs(t, err, ErrSkipped)

	// A scheduled campaign gets deltas only after its first run.
	_, err = SetSchedule(b.ctx, b.client, c.ID, Schedule{Cron: "0 9 * * *", TimeZone: "Europe/Berlin"}, b.now())
	require.NoError(t, err)
	_, err = b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerSegment})
	require.ErrorIs(t, err, ErrSkipped)
	_, err = b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerSchedule})
	require.NoError(t, err)
	_, err = b.syncer.Run(b.ctx, c.ID, RunOptions{Trigger: TriggerSegment})
	require.NoError(t, err)
}

// TestSyncSharedEmail: two members with one email (unmerged duplicates) are one contact, the
// lowest customer id's, in every run; when it leaves, the other takes its place without a
// removal call. An email a non-member shares does not keep a member out.
func TestSyncSharedEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := b.segment(t)
	yes := true
	first := b.customer(t, customerOpts{email: "zed@example.com", consent: &yes, traits: `{"first_name":"Zed"}`})
	second := b.customer(t, customerOpts{email: "zed@example.com", consent: &yes, traits: `{"first_name":"Zedd"}`})
	solo := b.customer(t, customerOpts{email: "solo@example.com", consent: &yes})
	outsider := b.customer(t, customerOpts{email: "solo@example.com"}) // not a member, no consent
	_ = outsider
	if bytes.Compare(second[:], first[:]) < 0 {
		first, second = second, first
	}
	b.join(t, seg, second, solo, first)
	c := b.campaign(t, seg, map[string]string{"CID": "customer_id"})

	run := b.run(t, c)
	require.Equal(t, counts{added: 2}, countsOf(run))
	require.Equal(t, map[string]map[string]string{
		"zed@example.com":  {"CID": first.String()},
		"solo@example.com": {"CID": solo.String()},
	}, b.fake.snapshot())

	calls := len(b.fake.ledger)
	run = b.run(t, c)
	require.Equal(t, counts{}, countsOf(run))
	require.Len(t, b.fake.ledger, calls, "an in-sync representative sends nothing, nor does its twin")

	b.leave(t, seg, first)
	run = b.run(t, c)
	require.Equal(t, counts{added: 1}, countsOf(run))
	require.Equal(t, map[string]map[string]string{
		"zed@example.com":  {"CID": second.String()},
		"solo@example.com": {"CID": solo.String()},
	}, b.fake.snapshot())
}

func TestRepresentatives(t *testing.T) {
	a, b2, c := uuid.MustParse("00000000-0000-7000-8000-00000000000a"), uuid.MustParse("00000000-0000-7000-8000-00000000000b"), uuid.MustParse("00000000-0000-7000-8000-00000000000c")
	row := func(id uuid.UUID, email string, send bool) sharedUpsert {
		return sharedUpsert{upsert{customer: id, contact: provider.Contact{Email: email}}, send}
	}
	tests := []struct {
		name string
		rows []sharedUpsert
		want []uuid.UUID
	}{
		{"lowest id represents its email", []sharedUpsert{row(c, "x@e", true), row(a, "x@e", true), row(b2, "x@e", true)}, []uuid.UUID{a}},
		{"an in-sync representative sends nothing", []sharedUpsert{row(b2, "x@e", true), row(a, "x@e", false)}, nil},
		{"one per email", []sharedUpsert{row(b2, "y@e", true), row(c, "x@e", true), row(a, "y@e", true)}, []uuid.UUID{c, a}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uuid.UUID
			for _, u := range representatives(tt.rows) {
				got = append(got, u.customer)
			}
			require.Equal(t, tt.want, got)
		})
	}
}
