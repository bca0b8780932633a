package graph

import (
	"context"
	"errors"

	"github.com/cairn-cdp/cairn/graph/model"
	"github.com/cairn-cdp/cairn/internal/privacy"
)

var errNoPrivacy = errors.New("privacy requests are not configured on this server")

// privacy returns the privacy service, or an error when the server runs without one.
func (r *Resolver) privacy() (*privacy.Service, error) {
	if r.Privacy == nil {
		return nil, errNoPrivacy
	}
	return r.Privacy, nil
}

func consentInput(in model.RecordConsentInput) privacy.ConsentInput {
	out := privacy.ConsentInput{CustomerID: in.CustomerID, Purpose: in.Purpose, Granted: in.Granted, Proof: in.Proof}
	if in.Source != nil {
		out.Source = *in.Source
	}
	if in.Identity != nil {
		out.IdentityType, out.IdentityValue = in.Identity.Type, in.Identity.Value
	}
	return out
}

func consentStates(states []privacy.ConsentState) []*model.ConsentState {
	out := make([]*model.ConsentState, len(states))
	for i, st := range states {
		m := &model.ConsentState{Purpose: st.Purpose, Granted: st.Granted, RecordedAt: st.RecordedAt}
		if st.Source != "" {
			src := st.Source
			m.Source = &src
		}
		out[i] = m
	}
	return out
}

func suppressionPage(ctx context.Context, p *privacy.Service, first int, after string) (*model.SuppressionConnection, error) {
	if first < 0 || first >= privacy.MaxSuppressionsPage {
		return nil, badInput("first must be 0..%d", privacy.MaxSuppressionsPage-1)
	}
	items, total, err := p.ListSuppressions(ctx, first+1, after)
	if err != nil {
		return nil, err
	}
	conn := &model.SuppressionConnection{TotalCount: total, Nodes: []*privacy.Suppression{}}
	if len(items) > first {
		items, conn.HasNextPage = items[:first], true
	}
	for i := range items {
		conn.Nodes = append(conn.Nodes, &items[i])
	}
	if conn.HasNextPage && len(items) > 0 {
		c := items[len(items)-1].Hash
		conn.EndCursor = &c
	}
	return conn, nil
}

// suppressionCounter reports the suppression list's size to privacySettings; without the
// privacy service, nil (privacySettings answers null).
func (r *Resolver) suppressionCounter() privacy.SuppressionCounter {
	if r.Privacy == nil {
		return nil
	}
	return r.Privacy.Suppressions()
}
