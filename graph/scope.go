package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/cairn-cdp/cairn/internal/auth"
)

// RootScopes is the scope each root field requires. It lists exactly the Query and Mutation
// fields of the schema: a field missing here is denied to everyone but admin (fail closed), and
// TestRootScopesMatchSchema fails both for a field without an entry and for an entry without a
// field. admin passes every check.
var RootScopes = map[string]map[string]auth.Scope{
	"Query": {
		"node": auth.ScopeRead, "nodes": auth.ScopeRead, // node types need more where nodeScopes says so
		"customers": auth.ScopeRead, "customer": auth.ScopeRead, "customerByIdentity": auth.ScopeRead,
		"segments": auth.ScopeRead, "segment": auth.ScopeRead, "segmentPreview": auth.ScopeRead,
		"rfmSummary": auth.ScopeRead, "campaigns": auth.ScopeRead, "destinations": auth.ScopeRead,
		"campaign": auth.ScopeRead,
		"job":      auth.ScopeRead,
		"viewer":   auth.ScopeRead, "traitKeys": auth.ScopeRead, "eventNames": auth.ScopeRead,
		"segmentExplain": auth.ScopeRead, "interactions": auth.ScopeRead,
		"retentionPolicies": auth.ScopePrivacy, "privacyRequests": auth.ScopePrivacy,
		"privacySettings": auth.ScopePrivacy,
		"apiKeys":         auth.ScopeAdmin, "auditEvents": auth.ScopeAdmin,
		"suppressions": auth.ScopePrivacy, "preferenceLink": auth.ScopePrivacy,
	},
	"Mutation": {
		"createAPIKey": auth.ScopeAdmin, "revokeAPIKey": auth.ScopeAdmin,
		"createSegment": auth.ScopeWrite, "updateSegment": auth.ScopeWrite, "deleteSegment": auth.ScopeWrite,
		"computeSegment": auth.ScopeWrite, "computeRFM": auth.ScopeWrite,
		"createDestination": auth.ScopeWrite, "updateDestination": auth.ScopeWrite, "deleteDestination": auth.ScopeWrite,
		"testDestination": auth.ScopeWrite, "createCampaign": auth.ScopeWrite, "updateCampaign": auth.ScopeWrite,
		"scheduleCampaign": auth.ScopeWrite, "pauseCampaign": auth.ScopeWrite, "resumeCampaign": auth.ScopeWrite,
		"runCampaignSync":       auth.ScopeWrite,
		"mergeCustomers":        auth.ScopeWrite,
		"createRetentionPolicy": auth.ScopePrivacy, "updateRetentionPolicy": auth.ScopePrivacy,
		"deleteRetentionPolicy": auth.ScopePrivacy, "runRetention": auth.ScopePrivacy,
		"requestErasure": auth.ScopePrivacy, "requestExport": auth.ScopePrivacy,
		"liftSuppression": auth.ScopeAdmin, "recordConsent": auth.ScopeWrite,
	},
}

// requiredScope returns the scope a root field needs; unknown fields need admin.
func requiredScope(object, field string) auth.Scope {
	if s, ok := RootScopes[object][field]; ok {
		return s
	}
	return auth.ScopeAdmin
}

// ScopeCheck rejects a whole operation, before any resolver runs, when the caller lacks the
// scope of any root field it selects: the response carries a FORBIDDEN error and no data.
// ingest-only keys are refused by the HTTP layer before this.
func ScopeCheck(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	object := rootObject(oc.Operation)
	p := auth.FromContext(ctx)
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{object}) {
		if f.Name == "__typename" || f.Name == "__schema" || f.Name == "__type" {
			continue
		}
		if s := requiredScope(object, f.Name); !p.Has(s) {
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{forbiddenField(object, f, s)}})
		}
	}
	return next(ctx)
}

// rootObject names the root type an operation selects from.
func rootObject(op *ast.OperationDefinition) string {
	switch op.Operation {
	case ast.Mutation:
		return "Mutation"
	case ast.Subscription:
		return "Subscription"
	default:
		return "Query"
	}
}

// forbiddenField is the FORBIDDEN error of root field f, which needs scope s.
func forbiddenField(object string, f graphql.CollectedField, s auth.Scope) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    forbidden(s).Error(),
		Path:       ast.Path{ast.PathName(f.Alias)},
		Extensions: map[string]any{"code": CodeForbidden, "field": object + "." + f.Name},
	}
}

// RootFieldScopeCheck re-checks each root field as it resolves; ScopeCheck already refused the
// operation, so this only guards against a path that skips it. It is a root-field interceptor,
// not a field one, so the fields below the root (50 rows × their fields in a list page) run no
// middleware at all.
func RootFieldScopeCheck(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rc, oc := graphql.GetRootFieldContext(ctx), graphql.GetOperationContext(ctx)
	if rc == nil || oc == nil || oc.Operation == nil || strings.HasPrefix(rc.Field.Name, "__") {
		return next(ctx)
	}
	// gqlgen's RootFieldContext.Object holds the field's name, not its type's: the operation
	// says which root type this is.
	object := rootObject(oc.Operation)
	if s := requiredScope(object, rc.Field.Name); !auth.FromContext(ctx).Has(s) {
		graphql.AddError(ctx, forbiddenField(object, rc.Field, s))
		return graphql.Null
	}
	return next(ctx)
}
