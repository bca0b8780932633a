package privacy

import "encoding/json"

// jsonSize is the length of v as JSON (0 when it does not encode).
func jsonSize(v any) int {
	raw, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(raw)
}
