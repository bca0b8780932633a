package rfm

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFMScore(t *testing.T) {
	t.Parallel()

	tests := []struct{ f, m, want int }{
		{1, 1, 1}, {1, 2, 2}, {2, 1, 2}, {2, 3, 3}, {3, 3, 3}, {4, 5, 5}, {5, 4, 5}, {5, 5, 5}, {1, 5, 3}, {2, 5, 4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("F%d M%d", tt.f, tt.m), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, FMScore(tt.f, tt.m))
		})
	}
}

func TestLabel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		r, f, m int
		want    string
	}{
		{"best everywhere", 5, 5, 5, LabelChampions},
		{"recent and rich but R4", 4, 4, 4, LabelChampions},
		{"FM rounds half up into Champions", 5, 4, 3, LabelChampions},
		{"FM 3.5 rounds to 4", 4, 3, 4, LabelChampions},
		{"first recent order, little money", 5, 1, 1, LabelNew},
		{"recent, FM 1.5 rounds to 2", 5, 1, 2, LabelPotentialLoyalist},
		{"recent, middling", 5, 3, 3, LabelPotentialLoyalist},
		{"R4 one small order", 4, 1, 1, LabelPromising},
		{"R4 middling", 4, 2, 2, LabelPotentialLoyalist},
		{"R3 strong FM", 3, 5, 4, LabelLoyal},
		{"R3 FM4", 3, 4, 4, LabelLoyal},
		{"R3 middling", 3, 3, 2, LabelNeedAttention},
		{"R3 FM2", 3, 2, 2, LabelNeedAttention},
		{"R3 weak", 3, 1, 1, LabelAboutToSleep},
		{"R2 weak", 2, 1, 1, LabelAboutToSleep},
		{"R2 FM2", 2, 2, 1, LabelHibernating},
		{"R2 good FM", 2, 3, 3, LabelAtRisk},
		{"R2 best FM is still At Risk", 2, 5, 5, LabelAtRisk},
		{"R1 best FM", 1, 5, 5, LabelCannotLoseThem},
		{"R1 FM4", 1, 4, 4, LabelCannotLoseThem},
		{"R1 FM3", 1, 3, 3, LabelAtRisk},
		{"R1 FM2", 1, 2, 2, LabelHibernating},
		{"worst everywhere", 1, 1, 1, LabelLost},
		{"recency out of range", 0, 3, 3, ""},
		{"frequency out of range", 3, 6, 3, ""},
		{"monetary out of range", 3, 3, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Label(tt.r, tt.f, tt.m))
		})
	}
}

// TestLabelGridCoversEveryLabel checks the map's shape: every cell labelled with a known label,
// every label used, and every cell inside its label's published R × FM range.
func TestLabelGridCoversEveryLabel(t *testing.T) {
	t.Parallel()

	type span struct{ rLo, rHi, fmLo, fmHi int }
	published := map[string]span{
		LabelChampions:         {4, 5, 4, 5},
		LabelLoyal:             {2, 5, 3, 5},
		LabelPotentialLoyalist: {3, 5, 1, 3},
		LabelNew:               {4, 5, 1, 1},
		LabelPromising:         {3, 4, 1, 1},
		LabelNeedAttention:     {2, 3, 2, 3},
		LabelAboutToSleep:      {2, 3, 1, 2},
		LabelAtRisk:            {1, 2, 2, 5},
		LabelCannotLoseThem:    {1, 1, 4, 5},
		LabelHibernating:       {1, 2, 1, 2},
		LabelLost:              {1, 2, 1, 2},
	}
	require.Len(t, Labels, 11)
	used := map[string]bool{}
	for r := 1; r <= 5; r++ {
		for fm := 1; fm <= 5; fm++ {
			l := labelGrid[r-1][fm-1]
			s, ok := published[l]
			require.True(t, ok, "cell R%d FM%d has unknown label %q", r, fm, l)
			require.True(t, r >= s.rLo && r <= s.rHi && fm >= s.fmLo && fm <= s.fmHi,
				"cell R%d FM%d = %q is outside its published range", r, fm, l)
			used[l] = true
		}
	}
	for _, l := range Labels {
		require.True(t, used[l], "label %q has no cell", l)
	}

	arr := labelArray()
	require.Len(t, arr, 25)
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			for m := 1; m <= 5; m++ {
				// The SQL indexes the flattened array (1-based) at (r-1)*5 + (f+m+1)/2.
				require.Equal(t, Label(r, f, m), arr[(r-1)*5+(f+m+1)/2-1])
			}
		}
	}
}
