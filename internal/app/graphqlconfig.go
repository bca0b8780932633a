package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// GraphQLOptions bound what one API key and one request may ask of the database through GraphQL.
type GraphQLOptions struct {
	Rate    rate.Limit    // requests per second per key; rate.Inf: no limit
	Burst   int           // requests a key may make at once
	Timeout time.Duration // each request's database time; negative: no bound
}

// GraphQLOptions reads:
//
//   - CAIRN_GRAPHQL_RATE: requests per API key, as n/s, n/m or n/h (default 50/s); off for none.
//   - CAIRN_GRAPHQL_BURST: requests a key may make at once before the rate applies (default 100).
//   - CAIRN_GRAPHQL_TIMEOUT: how long one request's database work may take before it is
//     cancelled and answered with TIMEOUT errors, as a Go duration (default 15s); off for none.
func (c Config) GraphQLOptions() (GraphQLOptions, error) {
	opts := GraphQLOptions{Rate: 50, Burst: 100, Timeout: 15 * time.Second}
	if v := strings.TrimSpace(c.GraphQLRate); v != "" {
		r, err := parseRate(v)
		if err != nil {
			return opts, fmt.Errorf("invalid CAIRN_GRAPHQL_RATE %q: %w", v, err)
		}
		opts.Rate = r
	}
	if v := strings.TrimSpace(c.GraphQLBurst); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return opts, fmt.Errorf("invalid CAIRN_GRAPHQL_BURST %q: want a whole number from 1 to 1000000", v)
		}
		opts.Burst = n
	}
	if v := strings.TrimSpace(c.GraphQLTimeout); v != "" {
		if strings.EqualFold(v, "off") {
			opts.Timeout = -1
		} else {
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond {
				return opts, fmt.Errorf("invalid CAIRN_GRAPHQL_TIMEOUT %q: want a duration of at least 100ms such as 15s or 2m, or off", v)
			}
			opts.Timeout = d
		}
	}
	return opts, nil
}

func parseRate(v string) (rate.Limit, error) {
	if strings.EqualFold(v, "off") {
		return rate.Inf, nil
	}
	num, unit, ok := strings.Cut(v, "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	per := map[string]float64{"s": 1, "m": 60, "h": 3600}[strings.TrimSpace(unit)]
	if !ok || err != nil || n <= 0 || per == 0 {
		return 0, fmt.Errorf("want requests per time unit such as 50/s, 600/m or 10000/h, or off")
	}
	return rate.Limit(n / per), nil
}
