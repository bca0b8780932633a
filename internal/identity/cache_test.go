package identity

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestCacheFollowsMerges checks that cached identifiers of merged-away customers resolve to the
// survivor, through a chain of merges, without rewriting the entries.
func TestCacheFollowsMerges(t *testing.T) {
	t.Parallel()
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	ka := Identifier{Type: "user_id", Value: "a"}
	kb := Identifier{Type: "anonymous_id", Value: "b"}
	kc := Identifier{Type: "email", Value: "c@example.com"}
	kd := Identifier{Type: "email", Value: "d@example.com"}
	cc := newCache(100)
	cc.put(map[Identifier]cacheEntry{ka: {customer: a}, kb: {customer: b}, kc: {customer: c}, kd: {customer: d}}, nil, nil)

	resolve := func() map[Identifier]uuid.UUID {
		got := map[Identifier]uuid.UUID{}
		misses := cc.get([]Identifier{ka, kb, kc, kd}, func(k Identifier, e cacheEntry) { got[k] = e.customer })
		require.Empty(t, misses)
		return got
	}
	cc.put(nil, nil, map[uuid.UUID]uuid.UUID{b: a}) // b merged into a
	require.Equal(t, map[Identifier]uuid.UUID{ka: a, kb: a, kc: c, kd: d}, resolve())
	cc.put(nil, nil, map[uuid.UUID]uuid.UUID{a: c}) // then a into c: b's identifiers follow
	require.Equal(t, map[Identifier]uuid.UUID{ka: c, kb: c, kc: c, kd: d}, resolve())

	// A full cache starts over, redirects included.
	small := newCache(2)
	small.put(map[Identifier]cacheEntry{ka: {customer: a}}, nil, map[uuid.UUID]uuid.UUID{b: a, c: a})
	require.Empty(t, small.get([]Identifier{ka}, func(Identifier, cacheEntry) {}))
	small.put(nil, nil, map[uuid.UUID]uuid.UUID{d: a})
	require.Equal(t, []Identifier{ka}, small.get([]Identifier{ka}, func(Identifier, cacheEntry) {}))
	require.Equal(t, map[uuid.UUID]uuid.UUID{d: a}, small.moved)
}
