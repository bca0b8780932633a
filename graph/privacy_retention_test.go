package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/auth"
)

func TestRetentionThroughGraphQL(t *testing.T) {
	t.Parallel()
	b := setupRFM(t)
	priv := b.key(t, auth.ScopePrivacy)
	write := b.key(t, auth.ScopeWrite)
	admin := b.key(t, auth.ScopeAdmin)

	const create = `mutation ($in: CreateRetentionPolicyInput!) { createRetentionPolicy(input: $in) {
		id name kind eventPattern keepDays action enabled lastRunAt rowsAffected sweepInProgress } }`
	type policy struct {
		ID, Name, EventPattern string
		Kind                   *string
		KeepDays               int
		Action                 string
		Enabled                bool
		LastRunAt              *string
		RowsAffected           int
		SweepInProgress        bool
	}
	var created struct{ CreateRetentionPolicy policy }
	in := map[string]any{"name": "old pages", "kind": "page", "event": "Home*", "keepDays": 30, "action": "anonymize"}
	require.Empty(t, b.query(t, priv, create, map[string]any{"in": in}, &created))
	p := created.CreateRetentionPolicy
	require.Equal(t, "page", *p.Kind)
	require.Equal(t, "Home*", p.EventPattern)
	require.Equal(t, "anonymize", p.Action)
	require.True(t, p.Enabled)
	require.False(t, p.SweepInProgress)

	// Bad input is BAD_USER_INPUT; a write key is FORBIDDEN.
	bad := map[string]any{"name": "x", "keepDays": 0, "action": "delete"}
	require.Equal(t, []string{graph.CodeBadUserInput}, b.query(t, priv, create, map[string]any{"in": bad}, nil))
	require.Equal(t, []string{graph.CodeForbidden}, b.query(t, write, create, map[string]any{"in": in}, nil))

	var updated struct{ UpdateRetentionPolicy policy }
	require.Empty(t, b.query(t, priv, `mutation ($id: ID!) { updateRetentionPolicy(id: $id, input: {clearKind: true, keepDays: 60}) {
		id kind keepDays } }`, map[string]any{"id": p.ID}, &updated))
	require.Empty(t, *updated.UpdateRetentionPolicy.Kind, "every kind")
	require.Equal(t, 60, updated.UpdateRetentionPolicy.KeepDays)

	var settings struct {
		PrivacySettings struct {
			IPTruncated          bool
			Ipv4PrefixBits       *int
			DroppedContextFields []string
			ConsentPurposes      []struct{ Category, Purpose string }
			RetentionPolicies    []struct{ ID string }
			Anonymization        struct{ Columns, Properties, Context []string }
			SuppressionCount     *int
		}
	}
	require.Empty(t, b.query(t, priv, `{ privacySettings { ipTruncated ipv4PrefixBits droppedContextFields
		consentPurposes { category purpose } retentionPolicies { id }
		anonymization { columns properties context } suppressionCount } }`, nil, &settings))
	s := settings.PrivacySettings
	require.True(t, s.IPTruncated)
	require.Equal(t, 24, *s.Ipv4PrefixBits)
	require.Len(t, s.RetentionPolicies, 1)
	require.Contains(t, s.Anonymization.Context, "location.country")
	require.Nil(t, s.SuppressionCount)

	var run struct{ RunRetention struct{ Kind, State string } }
	require.Empty(t, b.query(t, priv, `mutation { runRetention { kind state } }`, nil, &run))
	require.Equal(t, "apply_retention", run.RunRetention.Kind)

	var deleted struct{ DeleteRetentionPolicy string }
	require.Empty(t, b.query(t, priv, `mutation ($id: ID!) { deleteRetentionPolicy(id: $id) }`, map[string]any{"id": p.ID}, &deleted))
	require.Equal(t, p.ID, deleted.DeleteRetentionPolicy)
	require.Equal(t, []string{graph.CodeNotFound}, b.query(t, priv, `mutation ($id: ID!) { deleteRetentionPolicy(id: $id) }`, map[string]any{"id": p.ID}, nil))

	// The audit log is admin's alone, and holds every change above.
	const auditQuery = `{ auditEvents(first: 10, where: {targetType: "RetentionPolicy"}) { totalCount edges { node { action actor } } } }`
	require.Equal(t, []string{graph.CodeForbidden}, b.query(t, priv, auditQuery, nil, nil))
	var audit struct {
		AuditEvents struct {
			TotalCount int
			Edges      []struct {
				Node struct{ Action, Actor string }
			}
		}
	}
	require.Empty(t, b.query(t, admin, auditQuery, nil, &audit))
	require.Equal(t, 3, audit.AuditEvents.TotalCount)
	for _, e := range audit.AuditEvents.Edges {
		require.Regexp(t, `^key:`, e.Node.Actor)
	}
}
