package privacy_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/txn"
)

func TestExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
		VALUES (gen_random_uuid(), now(), now(), 'all', '{"identity":{"type":"email","exists":true}}', 3600, 0, 'ready')`)
	require.NoError(t, err)
	me := person{userID: "export-user-1", email: "export.me@example.org", phone: "+14155550111",
		device: "export-device-1", anons: []string{"export-anon-1", "export-anon-2", "export-anon-3"}}
	other := person{userID: "export-user-2", email: "other.one@example.org", phone: "+14155550122",
		device: "export-device-2", anons: []string{"export-anon-4", "export-anon-5", "export-anon-6"}}
	seedPerson(t, b, me)
	seedPerson(t, b, other)

	req, err := b.svc.RequestExport(ctx, "key:test", "user_id", me.userID)
	require.NoError(t, err)
	require.Equal(t, privacyrequest.KindExport, req.Kind)
	tok, err := b.svc.ExportToken(ctx, req.ID)
	require.NoError(t, err)
	require.Empty(t, tok, "no link before the document is built")
	require.NoError(t, b.svc.BuildExport(ctx, req.ID))
	tok, err = b.svc.ExportToken(ctx, req.ID)
	require.NoError(t, err)
	require.NotEmpty(t, tok)

	got, err := txn.NewClient(b.db).PrivacyRequest.Get(ctx, req.ID)
	require.NoError(t, err)
	require.Equal(t, privacyrequest.StatusCompleted, got.Status)
	require.Nil(t, got.IdentityValue)
	require.Empty(t, got.Export, "the document is never on the request")

	t.Run("tampered and expired tokens get nothing", func(t *testing.T) {
		for name, bad := range map[string]string{
			"altered":  tok[:len(tok)-2] + "AA",
			"garbage":  "not-a-token",
			"empty":    "",
			"swapped":  strings.SplitN(tok, ".", 2)[0] + "." + strings.SplitN(tok, ".", 2)[0],
			"for page": b.svc.PreferenceToken(b.customerOf(t, "user_id", me.userID)),
		} {
			t.Run(name, func(t *testing.T) {
				doc, err := b.svc.DownloadExport(ctx, bad)
				require.ErrorIs(t, err, privacy.ErrToken)
				require.Nil(t, doc)
			})
		}
		later, err := privacy.New(privacy.Config{DB: b.db, Box: b.box, Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }})
		require.NoError(t, err)
		doc, err := later.DownloadExport(ctx, tok)
		require.ErrorIs(t, err, privacy.ErrToken)
		require.Nil(t, doc)
	})

	var doc struct {
		Profiles           []map[string]any `json:"profiles"`
		Identities         []struct{ Type, Value string }
		Interactions       []map[string]any `json:"interactions"`
		Consents           []map[string]any `json:"consents"`
		SegmentMemberships []map[string]any `json:"segmentMemberships"`
	}
	raw, err := b.svc.DownloadExport(ctx, tok)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &doc))

	t.Run("the document holds exactly the person's data", func(t *testing.T) {
		root := b.customerOf(t, "user_id", me.userID)
		require.Len(t, doc.Profiles, 3)
		require.Len(t, doc.Interactions, b.count(t, `SELECT count(*) FROM interactions WHERE customer_id = $1`, root))
		require.Len(t, doc.Consents, b.count(t, `SELECT count(*) FROM consents WHERE customer_id = $1`, root))
		require.Len(t, doc.SegmentMemberships, 1)
		var values []string
		for _, id := range doc.Identities {
			values = append(values, id.Value)
		}
		want := me.all()
		sort.Strings(want)
		sort.Strings(values)
		require.Equal(t, want, values)
		for _, v := range other.all() {
			require.NotContains(t, string(raw), v)
		}
	})
	t.Run("the link works once", func(t *testing.T) {
		again, err := b.svc.DownloadExport(ctx, tok)
		require.ErrorIs(t, err, privacy.ErrToken)
		require.Nil(t, again)
		require.Equal(t, 0, b.count(t, `SELECT count(*) FROM privacy_export_documents`))
	})
	t.Run("expired documents are deleted", func(t *testing.T) {
		req, err := b.svc.RequestExport(ctx, "key:test", "email", other.email)
		require.NoError(t, err)
		require.NoError(t, b.svc.BuildExport(ctx, req.ID))
		later, err := privacy.New(privacy.Config{DB: b.db, Box: b.box, Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }})
		require.NoError(t, err)
		n, err := later.DeleteExpiredExports(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}
