package rfm

// The eleven labels of the common RFM segment map.
const (
	LabelChampions         = "Champions"
	LabelLoyal             = "Loyal"
	LabelPotentialLoyalist = "Potential Loyalist"
	LabelNew               = "New"
	LabelPromising         = "Promising"
	LabelNeedAttention     = "Need Attention"
	LabelAboutToSleep      = "About To Sleep"
	LabelAtRisk            = "At Risk"
	LabelCannotLoseThem    = "Cannot Lose Them"
	LabelHibernating       = "Hibernating"
	LabelLost              = "Lost"
)

// Labels lists every label, best customers first; rfmSummary reports them in this order and
// segment rules may validate `rfm: {label: …}` against it.
var Labels = []string{
	LabelChampions, LabelLoyal, LabelPotentialLoyalist, LabelNew, LabelPromising, LabelNeedAttention,
	LabelAboutToSleep, LabelAtRisk, LabelCannotLoseThem, LabelHibernating, LabelLost,
}

// labelGrid is the segment map: the label of each (recency score, FM score) cell, where FM is
// the mean of the frequency and monetary scores rounded half up (see FMScore).
//
// It follows the widely used R × FM table of eleven segments, whose published ranges overlap:
//
//	Champions          R 4–5  FM 4–5     Need Attention    R 2–3  FM 2–3
//	Loyal              R 2–5  FM 3–5     About To Sleep    R 2–3  FM 1–2
//	Potential Loyalist R 3–5  FM 1–3     At Risk           R 1–2  FM 2–5
//	New                R 4–5  FM 1       Cannot Lose Them  R 1    FM 4–5
//	Promising          R 3–4  FM 1       Hibernating       R 1–2  FM 1–2
//	                                     Lost              R 1–2  FM 1–2
//
// Cairn resolves the overlaps into one cell each, every cell inside its label's published
// range, so that each of the 25 cells has exactly one label and each label at least one cell:
//
//	R \ FM   1                2                   3                   4                 5
//	  5      New              Potential Loyalist  Potential Loyalist  Champions         Champions
//	  4      Promising        Potential Loyalist  Potential Loyalist  Champions         Champions
//	  3      About To Sleep   Need Attention      Need Attention      Loyal             Loyal
//	  2      About To Sleep   Hibernating         At Risk             At Risk           At Risk
//	  1      Lost             Hibernating         At Risk             Cannot Lose Them  Cannot Lose Them
//
// Row r-1 is recency score r, column fm-1 is FM score fm. The SQL computation reads this same
// table, passed as a constant text[] parameter (labelArray), so Go and SQL cannot disagree.
var labelGrid = [5][5]string{
	{LabelLost, LabelHibernating, LabelAtRisk, LabelCannotLoseThem, LabelCannotLoseThem},             // R = 1
	{LabelAboutToSleep, LabelHibernating, LabelAtRisk, LabelAtRisk, LabelAtRisk},                     // R = 2
	{LabelAboutToSleep, LabelNeedAttention, LabelNeedAttention, LabelLoyal, LabelLoyal},              // R = 3
	{LabelPromising, LabelPotentialLoyalist, LabelPotentialLoyalist, LabelChampions, LabelChampions}, // R = 4
	{LabelNew, LabelPotentialLoyalist, LabelPotentialLoyalist, LabelChampions, LabelChampions},       // R = 5
}

// FMScore combines the frequency and monetary scores (1..5 each) into one 1..5 score: their
// mean rounded half up, (f + m + 1) / 2 in integer arithmetic (f=4, m=5 → 5; f=1, m=2 → 2).
func FMScore(f, m int) int { return (f + m + 1) / 2 }

// Label returns the segment label of the recency, frequency and monetary scores (each 1..5),
// or "" when a score is out of range.
func Label(r, f, m int) string {
	if !inRange(r) || !inRange(f) || !inRange(m) {
		return ""
	}
	return labelGrid[r-1][FMScore(f, m)-1]
}

func inRange(score int) bool { return score >= 1 && score <= 5 }

// labelArray flattens labelGrid for SQL: element (r-1)*5 + fm (1-based, as Postgres arrays are)
// is the label of recency score r and FM score fm.
func labelArray() []string {
	out := make([]string, 0, 25)
	for _, row := range labelGrid {
		out = append(out, row[:]...)
	}
	return out
}
