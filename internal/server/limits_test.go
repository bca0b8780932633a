package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/auth"
)

// aliases repeats field n times under aliases a0, a1, …
func aliases(n int, field string) string {
	var sb strings.Builder
	sb.WriteString("{")
	for i := range n {
		fmt.Fprintf(&sb, " a%d: %s", i, field)
	}
	sb.WriteString(" }")
	return sb.String()
}

// TestWholeTableWorkIsCosted: totalCount and other counts read every matching row whatever the
// page, so an operation may hold only a few of them.
func TestWholeTableWorkIsCosted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	read := b.key(t, auth.ScopeRead)
	preview := `segmentPreview(rule: {trait: {key: "plan", op: EQ, value: "pro"}}) { count }`
	tests := []struct {
		name    string
		query   string
		refused bool
	}{
		{"100 aliased totalCounts", aliases(100, `customers(first: 1) { totalCount }`), true},
		{"100 aliased preview counts", aliases(100, preview), true},
		{"30 aliased rfmSummaries", aliases(30, `rfmSummary { scored }`), true},
		{"20 aliased totalCounts", aliases(20, `customers(first: 1) { totalCount }`), false},
		{"a page of customers with their interaction counts", `{ customers(first: 50) { totalCount edges { node { interactions { totalCount } } } } }`, false},
		{"one preview", `{ ` + preview + ` }`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := b.do(t, read, tc.query, nil)
			if !tc.refused {
				require.Empty(t, resp.Errors)
				return
			}
			require.Equal(t, []string{"BAD_USER_INPUT"}, resp.codes())
			require.Contains(t, resp.Errors[0].Message, "too expensive")
			require.Nil(t, resp.Data)
		})
	}
}
