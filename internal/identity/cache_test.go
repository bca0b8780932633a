package identity

import (
	"strings"
	"testing"
	"time"
	"unsafe"

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

// TestCacheKeysOwnTheirMemory: a cached identifier never shares the memory of the message it came
// from (which it would keep alive), neither when first stored nor when its entry is rewritten
// (assigning to an existing map key replaces the stored key).
func TestCacheKeysOwnTheirMemory(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 1000) + "user-1" // a message body the identifier points into
	key := func() Identifier { return Identifier{Type: TypeUserID, Value: body[1000:]} }
	cust := uuid.New()
	cc := newCache(100)
	owned := func() {
		t.Helper()
		require.Len(t, cc.m, 1)
		for k := range cc.m {
			require.Equal(t, "user-1", k.Value)
			require.True(t, unsafe.StringData(body[1000:]) != unsafe.StringData(k.Value), "the stored key points into the body")
		}
	}
	at := time.Now()
	cc.put(map[Identifier]cacheEntry{key(): {customer: cust, seen: at}}, nil, nil)
	owned()
	cc.put(map[Identifier]cacheEntry{key(): {customer: cust, seen: at}}, nil, nil) // unchanged
	owned()
	cc.put(map[Identifier]cacheEntry{key(): {customer: cust, seen: at.Add(time.Hour)}}, nil, nil) // rewritten
	owned()
	got := map[Identifier]cacheEntry{}
	require.Empty(t, cc.get([]Identifier{key()}, func(k Identifier, e cacheEntry) { got[k] = e }))
	require.Equal(t, at.Add(time.Hour), got[key()].seen, "the rewrite is kept")
}
