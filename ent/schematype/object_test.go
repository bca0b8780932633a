package schematype

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestObjectJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // MarshalJSON of the result
		wantErr bool
	}{
		{"object kept as sent", `{"plan": "pro", "age": 42}`, `{"plan": "pro", "age": 42}`, false},
		{"null is the empty object", `null`, `{}`, false},
		{"array refused", `[1, 2]`, ``, true},
		{"string refused", `"x"`, ``, true},
		{"bad syntax refused before it is kept", `{"plan": }`, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Object
			err := json.Unmarshal([]byte(tt.in), &o)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			got, err := json.Marshal(o)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestObjectKeepsNoAliasOfTheInput(t *testing.T) {
	in := []byte(`{"a":1}`)
	var o Object
	require.NoError(t, o.UnmarshalJSON(in))
	in[2] = 'b' // database/sql reuses its buffers
	require.Equal(t, `{"a":1}`, string(o))
}

func TestObjectGraphQL(t *testing.T) {
	var w bytes.Buffer
	Object(nil).MarshalGQL(&w)
	require.Equal(t, `{}`, w.String())

	var o Object
	require.NoError(t, o.UnmarshalGQL(map[string]any{"plan": "pro"}))
	var m map[string]any
	require.NoError(t, json.Unmarshal(o, &m))
	require.Equal(t, map[string]any{"plan": "pro"}, m)
	require.Error(t, o.UnmarshalGQL([]any{1}))
}
