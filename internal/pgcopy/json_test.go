package pgcopy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

func TestJSONBuilder(t *testing.T) {
	t.Parallel()
	var w pgcopy.JSON
	w.Obj()
	w.Str("a", "x")
	w.Num("b", 1.5)
	w.Int("c", 7)
	w.Key("d")
	w.Arr()
	w.Obj()
	w.Str("e", "y")
	w.End()
	w.Obj()
	w.End()
	w.EndArr()
	w.Key("f")
	w.Value(func(b []byte) []byte { return append(b, "true"...) })
	w.End()
	require.JSONEq(t, `{"a":"x","b":1.5,"c":7,"d":[{"e":"y"},{}],"f":true}`, string(w.B))

	w.Reset()
	w.Obj()
	w.End()
	require.Equal(t, `{}`, string(w.B))
}
