package graph_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/secret"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/internal/testdb"
	"github.com/cairn-cdp/cairn/internal/txn"
	"github.com/cairn-cdp/cairn/jobs"
)

type b64Sealer struct{}

func (b64Sealer) Seal(p []byte) (string, error) { return base64.StdEncoding.EncodeToString(p), nil }
func (b64Sealer) Open(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// testedDestination answers Test with err.
type testedDestination struct {
	provider.Destination
	err error
}

func (d testedDestination) Test(context.Context) error { return d.err }

func TestCampaignAPI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testdb.New(t)
	client := txn.NewClient(db)
	log := slog.New(slog.DiscardHandler)
	rc, _, err := jobs.NewClient(jobs.Deps{DB: db, Client: client, Log: log}, jobs.Options{})
	require.NoError(t, err)
	keys := auth.NewKeys(db, log)
	dests := &campaign.Destinations{Sealer: b64Sealer{}, Open: func(_ string, cfg map[string]any) (provider.Destination, error) {
		if cfg["secret"] == "wrong-secret-0000" {
			return testedDestination{err: errors.New("401 Unauthorized")}, nil
		}
		return testedDestination{}, nil
	}}
	srv := server.New(server.Config{DB: db, Keys: keys, Log: log, Resolver: &graph.Resolver{DB: db, Client: client, Keys: keys,
		Jobs: jobs.Reader{Client: rc}, SegmentJobs: jobs.SegmentScheduler{Client: rc}, RFMJobs: jobs.RFMScheduler{Client: rc}, Log: log, Destinations: dests, CampaignSyncs: jobs.CampaignJobs{Client: rc, DB: db},
		Tracking: &campaign.Tracking{Signer: signer(t), BaseURL: "https://cairn.example"}}})
	key := func(scopes ...auth.Scope) string {
		c, err := keys.Create(ctx, "campaign test", scopes)
		require.NoError(t, err)
		return c.Secret
	}
	write, read := key(auth.ScopeWrite, auth.ScopeRead), key(auth.ScopeRead)
	codes := func(errs []gqlError) []string {
		var out []string
		for _, e := range errs {
			out = append(out, e.Extensions.Code)
		}
		return out
	}

	const createDestination = `mutation($in: CreateDestinationInput!) { createDestination(input: $in) {
		id kind name enabled configured settings secrets { key configured hint } } }`
	in := map[string]any{"kind": "webhook", "name": "Hook", "config": map[string]any{
		"url": "https://hooks.example.com/cairn", "secret": "whsec-0123456789abcdef"}}
	require.Equal(t, []string{"FORBIDDEN"}, codes(postGraphQL(t, srv, read, createDestination, map[string]any{"in": in}, nil)))
	var created struct {
		CreateDestination struct {
			ID         uuid.UUID
			Kind       string
			Configured bool
			Settings   map[string]any
			Secrets    []struct {
				Key, Hint  string
				Configured bool
			}
		}
	}
	require.Empty(t, postGraphQL(t, srv, write, createDestination, map[string]any{"in": in}, &created))
	d := created.CreateDestination
	require.Equal(t, "webhook", d.Kind)
	require.True(t, d.Configured)
	require.Equal(t, map[string]any{"url": "https://hooks.example.com/cairn"}, d.Settings)
	require.Len(t, d.Secrets, 1)
	require.Equal(t, "…cdef", d.Secrets[0].Hint)

	// Missing secret: BAD_USER_INPUT.
	bad := map[string]any{"kind": "webhook", "name": "Hook", "config": map[string]any{"url": "https://x.example"}}
	require.Equal(t, []string{"BAD_USER_INPUT"}, codes(postGraphQL(t, srv, write, createDestination, map[string]any{"in": bad}, nil)))

	// testDestination reports the provider's answer.
	const testDestination = `mutation($id: ID!) { testDestination(id: $id) { ok error } }`
	var tested struct{ TestDestination struct{ Ok bool } }
	require.Empty(t, postGraphQL(t, srv, write, testDestination, map[string]any{"id": d.ID}, &tested))
	require.True(t, tested.TestDestination.Ok)
	require.Empty(t, postGraphQL(t, srv, write, `mutation($id: ID!) { updateDestination(id: $id, input: {config: {secret: "wrong-secret-0000"}}) { id } }`,
		map[string]any{"id": d.ID}, nil))
	var failed struct {
		TestDestination struct {
			Ok    bool
			Error string
		}
	}
	require.Empty(t, postGraphQL(t, srv, write, testDestination, map[string]any{"id": d.ID}, &failed))
	require.False(t, failed.TestDestination.Ok)
	require.Contains(t, failed.TestDestination.Error, "401")

	// A campaign on a segment.
	segID := uuid.Must(uuid.NewV7())
	_, err = db.ExecContext(ctx, `INSERT INTO segments (id, created_at, updated_at, name, rule, status)
		VALUES ($1, now(), now(), 'pro', '{"trait":{"key":"plan","op":"EQ","value":"pro"}}', 'ready')`, segID)
	require.NoError(t, err)
	var cc struct {
		CreateCampaign struct {
			ID     uuid.UUID
			Status string
			Fields map[string]any
		}
	}
	require.Empty(t, postGraphQL(t, srv, write, `mutation($seg: ID!, $dst: ID!) { createCampaign(input: {name: "Weekly",
		segmentId: $seg, destinationId: $dst, fields: {FNAME: "trait:first_name", EMAIL: "email"}}) { id status fields } }`,
		map[string]any{"seg": segID, "dst": d.ID}, &cc))
	c := cc.CreateCampaign
	require.Equal(t, "draft", c.Status)
	require.Equal(t, map[string]any{"FNAME": "trait:first_name", "EMAIL": "email"}, c.Fields)

	const schedule = `mutation($id: ID!, $s: CampaignScheduleInput!) { scheduleCampaign(id: $id, schedule: $s) { status scheduleCron scheduleTimezone nextRunAt } }`
	require.Equal(t, []string{"BAD_USER_INPUT"}, codes(postGraphQL(t, srv, write, schedule,
		map[string]any{"id": c.ID, "s": map[string]any{"cron": "0 9 * * *", "timeZone": "Mars/Base"}}, nil)))
	var sc struct {
		ScheduleCampaign struct{ Status, ScheduleTimezone, NextRunAt string }
	}
	require.Empty(t, postGraphQL(t, srv, write, schedule,
		map[string]any{"id": c.ID, "s": map[string]any{"cron": "0 9 * * *", "timeZone": "America/New_York"}}, &sc))
	require.Equal(t, "scheduled", sc.ScheduleCampaign.Status)
	require.NotEmpty(t, sc.ScheduleCampaign.NextRunAt)

	var paused struct{ PauseCampaign struct{ Status string } }
	require.Empty(t, postGraphQL(t, srv, write, `mutation($id: ID!) { pauseCampaign(id: $id) { status } }`, map[string]any{"id": c.ID}, &paused))
	require.Equal(t, "paused", paused.PauseCampaign.Status)
	var resumed struct{ ResumeCampaign struct{ Status string } }
	require.Empty(t, postGraphQL(t, srv, write, `mutation($id: ID!) { resumeCampaign(id: $id) { status } }`, map[string]any{"id": c.ID}, &resumed))
	require.Equal(t, "scheduled", resumed.ResumeCampaign.Status)

	var run struct{ RunCampaignSync struct{ Kind, State string } }
	require.Empty(t, postGraphQL(t, srv, write, `mutation($id: ID!) { runCampaignSync(id: $id) { kind state } }`, map[string]any{"id": c.ID}, &run))
	require.Equal(t, "campaign_sync", run.RunCampaignSync.Kind)
	require.Equal(t, []string{"NOT_FOUND"}, codes(postGraphQL(t, srv, write, `mutation($id: ID!) { runCampaignSync(id: $id) { kind } }`,
		map[string]any{"id": uuid.Must(uuid.NewV7())}, nil)))

	// The destination is in use; reading needs read only.
	require.Equal(t, []string{"CONFLICT"}, codes(postGraphQL(t, srv, write, `mutation($id: ID!) { deleteDestination(id: $id) }`, map[string]any{"id": d.ID}, nil)))
	var got struct {
		Campaign struct {
			Name        string
			Destination struct{ Name string }
			Syncs       struct{ TotalCount int }
		}
	}
	require.Empty(t, postGraphQL(t, srv, read, `query($id: ID!) { campaign(id: $id) { name destination { name } syncs { totalCount } } }`,
		map[string]any{"id": c.ID}, &got))
	require.Equal(t, "Weekly", got.Campaign.Name)
	require.Equal(t, "Hook", got.Campaign.Destination.Name)

	// Stats (computed by internal/campaign's one statement; figures tested there) and tracked
	// links, with read.
	var st struct {
		Campaign struct {
			Stats struct {
				Audience, Synced, UniqueOpens, UniqueClicks, Conversions int
				Ctr, Revenue                                             float64
			}
			TrackedLink string
		}
	}
	require.Empty(t, postGraphQL(t, srv, read, `query($id: ID!) { campaign(id: $id) { stats { audience synced uniqueOpens uniqueClicks conversions ctr revenue } trackedLink(url: "https://shop.example/a?b=1") } }`,
		map[string]any{"id": c.ID}, &st))
	require.Zero(t, st.Campaign.Stats.Synced)
	require.Zero(t, st.Campaign.Stats.Ctr)
	require.True(t, strings.HasPrefix(st.Campaign.TrackedLink, "?u=https%3A%2F%2Fshop.example%2Fa%3Fb%3D1&l="), st.Campaign.TrackedLink) // a webhook destination
	require.Equal(t, []string{"BAD_USER_INPUT"}, codes(postGraphQL(t, srv, read, `query($id: ID!) { campaign(id: $id) { trackedLink(url: "javascript:alert(1)") } }`,
		map[string]any{"id": c.ID}, nil)))

	// No response carries a secret.
	var list any
	require.Empty(t, postGraphQL(t, srv, read, `{ destinations { edges { node { name settings secrets { key hint } } } } }`, nil, &list))
	js, err := json.Marshal(list)
	require.NoError(t, err)
	require.Contains(t, string(js), `"key":"secret"`)
	require.NotContains(t, string(js), "wrong-secret")
	require.NotContains(t, string(js), "whsec")
}

func signer(t *testing.T) *secret.Box {
	t.Helper()
	box, err := secret.New(strings.Repeat("s", 40))
	require.NoError(t, err)
	return box
}
