package seed

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cairn-cdp/cairn/internal/pgcopy"
)

// Deterministic randomness and the formatting helpers the generator shares.

// Mix is splitmix64's finaliser: it spreads nearby inputs (customer 1, 2, 3 …) over the whole
// seed space.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// customerRand is customer i's random stream. Its first draw is the customer's activity weight.
func customerRand(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(Mix(seed), Mix(uint64(i)^0x5eed)))
}

// weight maps the first draw to a heavy-tailed activity weight (Pareto-like, mean ≈ 2.5): most
// customers do a few things, a few do a lot.
func weight(u float64) float64 {
	return math.Min(math.Pow(1-u, -0.6), maxWeight)
}

// allocateEvents splits events over customers in proportion to their weights: everyone gets one
// event when there are enough, the rest goes by cumulative rounding, so the total is exact.
func allocateEvents(seed uint64, customers, events int) []int32 {
	counts := make([]int32, customers)
	weights := make([]float64, customers)
	var total float64
	for i := range customers {
		weights[i] = weight(customerRand(seed, i).Float64())
		total += weights[i]
	}
	rest := events
	if events >= customers {
		for i := range counts {
			counts[i] = 1
		}
		rest = events - customers
	}
	var cum float64
	prev := 0
	for i := range customers {
		cum += weights[i]
		upto := int(math.Floor(float64(rest) * cum / total))
		if i == customers-1 {
			upto = rest
		}
		counts[i] += int32(upto - prev)
		prev = upto
	}
	return counts
}

func pick(r *rand.Rand, ws []weighted) string {
	var total float64
	for _, w := range ws {
		total += w.weight
	}
	x := r.Float64() * total
	for _, w := range ws {
		if x < w.weight {
			return w.value
		}
		x -= w.weight
	}
	return ws[len(ws)-1].value
}

func usTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// UUID7 is a UUIDv7 for the millisecond ms with random bits from r.
func UUID7(ms int64, r *rand.Rand) [16]byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	x := r.Uint64()
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | byte(x>>8)&0x0f
	u[7] = byte(x)
	u[8] = u[8]&0x3f | 0x80
	return u
}

// UUID4 is a random (version 4) UUID drawn from r.
func UUID4(r *rand.Rand) [16]byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], r.Uint64())
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func upperUUID(u [16]byte) string {
	var buf [36]byte
	return upperUUIDInto(buf[:0], u)
}

func upperUUIDInto(dst []byte, u [16]byte) string {
	dst = pgcopy.AppendUUID(dst, u)
	for i, c := range dst {
		if c >= 'a' && c <= 'f' {
			dst[i] = c - 'a' + 'A'
		}
	}
	return string(dst)
}

func title(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func pad9(i int64) string {
	s := strconv.FormatInt(i, 10)
	for len(s) < 9 {
		s = "0" + s
	}
	return s
}
