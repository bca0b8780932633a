package privacy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/ent/privacyrequest"
	"github.com/cairn-cdp/cairn/internal/ingest/wire"
	"github.com/cairn-cdp/cairn/internal/privacy"
)

// A preference-page export has no job behind it: when building fails (here the caller's
// context ends after the request committed) the request is failed, not left pending.
func TestPreferenceExportFailureFailsTheRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.submit(t, wire.Message{Type: "identify", UserID: "pref-fail-user", AnonymousID: "pref-fail-anon"})
	token := b.svc.PreferenceToken(b.customerOf(t, "user_id", "pref-fail-user"))
	ctx, cancel := context.WithCancel(context.Background())
	privacy.SetBeforeExportBuild(b.svc, cancel)

	tok, err := b.svc.ExportForPreferences(ctx, token)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, tok)

	reqs, err := clientOf(b).PrivacyRequest.Query().Where(privacyrequest.KindEQ(privacyrequest.KindExport)).All(context.Background())
	require.NoError(t, err)
	require.Len(t, reqs, 1)
	require.Equal(t, privacyrequest.StatusFailed, reqs[0].Status)
	require.NotEmpty(t, reqs[0].Error)
	require.NotContains(t, reqs[0].Error, "pref-fail")
	require.Zero(t, b.count(t, `SELECT count(*) FROM privacy_export_documents`))
	require.Equal(t, 1.0, b.metric(t, "cairn_privacy_requests_total", "status", "failed"))
}
