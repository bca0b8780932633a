package pgarray_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/pgarray"
)

func TestUUIDs(t *testing.T) {
	t.Parallel()
	a := uuid.MustParse("0190a6b4-0000-7000-8000-000000000001")
	b := uuid.MustParse("0190a6b4-0000-7000-8000-000000000002")
	tests := []struct {
		name  string
		ids   []uuid.UUID
		want  pq.StringArray
		value string // the driver value PostgreSQL receives
	}{
		{"nil is an empty array", nil, pq.StringArray{}, "{}"},
		{"empty", []uuid.UUID{}, pq.StringArray{}, "{}"},
		{"order kept", []uuid.UUID{b, a}, pq.StringArray{b.String(), a.String()},
			`{"` + b.String() + `","` + a.String() + `"}`},
		{"nil uuid", []uuid.UUID{uuid.Nil}, pq.StringArray{uuid.Nil.String()},
			`{"00000000-0000-0000-0000-000000000000"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := pgarray.UUIDs(tt.ids)
			require.Equal(t, tt.want, got)
			v, err := got.Value()
			require.NoError(t, err)
			require.Equal(t, tt.value, v)
		})
	}
}
