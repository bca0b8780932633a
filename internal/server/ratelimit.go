package server

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/cairn-cdp/cairn/internal/auth"
)

// CodeRateLimited is the GraphQL error code of a 429 answer.
const CodeRateLimited = "RATE_LIMITED"

// RateLimit is a token bucket per API key: Rate requests per second sustained, Burst at once.
type RateLimit struct {
	Rate  rate.Limit // rate.Inf: no limit
	Burst int
}

// DefaultGraphQLRate lets a key make 50 GraphQL requests a second, 100 at once.
var DefaultGraphQLRate = RateLimit{Rate: 50, Burst: 100}

// keyLimiters holds one limiter per API key. A limiter whose bucket is full again says nothing
// a new one would not, so a sweep every sweepEvery drops those: memory stays proportional to
// the keys active in the last minutes.
type keyLimiters struct {
	limit RateLimit

	mu        sync.Mutex
	byKey     map[uuid.UUID]*rate.Limiter
	lastSweep time.Time
}

const sweepEvery = time.Minute

func newKeyLimiters(l RateLimit) *keyLimiters {
	return &keyLimiters{limit: l, byKey: map[uuid.UUID]*rate.Limiter{}}
}

// wait is zero when key may make a request now; otherwise how long until it may (the request
// is not counted).
func (k *keyLimiters) wait(key uuid.UUID, now time.Time) time.Duration {
	if k.limit.Rate == rate.Inf {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.lastSweep) >= sweepEvery {
		for id, l := range k.byKey {
			if l.TokensAt(now) >= float64(k.limit.Burst) {
				delete(k.byKey, id)
			}
		}
		k.lastSweep = now
	}
	l, ok := k.byKey[key]
	if !ok {
		l = rate.NewLimiter(k.limit.Rate, k.limit.Burst)
		k.byKey[key] = l
	}
	res := l.ReserveN(now, 1)
	if !res.OK() { // a burst of 0 never allows a request
		return time.Hour
	}
	d := res.DelayFrom(now)
	if d > 0 {
		res.CancelAt(now)
	}
	return d
}

// rateLimitGraphQL answers 429 with Retry-After (whole seconds, rounded up) to a key over its
// GraphQL rate. It runs after requireKey, which put the key's principal in the context.
func (s *Server) rateLimitGraphQL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		if d := s.graphQLLimits.wait(p.KeyID, time.Now()); d > 0 {
			secs := int(math.Ceil(d.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeGraphQLError(w, http.StatusTooManyRequests, CodeRateLimited,
				fmt.Sprintf("this API key is over its GraphQL rate (%g requests/s, bursts of %d): retry after %d s", float64(s.cfg.GraphQLRate.Rate), s.cfg.GraphQLRate.Burst, secs))
			return
		}
		next.ServeHTTP(w, r)
	})
}
