package graph

import (
	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/graph/model"
	"github.com/cairn-cdp/cairn/internal/segment"
)

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// derefOr is *n, or def when n is nil (an explicit null means the schema's default).
func derefOr(n *int, def int) int {
	if n == nil {
		return def
	}
	return *n
}

func explanationModel(c *ent.Customer, ex *segment.Explanation) *model.SegmentExplanation {
	out := &model.SegmentExplanation{Customer: c, Matches: ex.Matches, Nodes: make([]*model.ExplainNode, len(ex.Nodes))}
	for i, n := range ex.Nodes {
		m := &model.ExplainNode{Path: n.Path, Kind: n.Kind, Text: n.Text, Matched: n.Matched, Fact: n.Fact}
		if n.ParentPath != "" {
			m.ParentPath = &n.ParentPath
		}
		if n.Observed != "" {
			m.Observed = &n.Observed
		}
		out.Nodes[i] = m
	}
	return out
}
