package privacy

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	seconds  *prometheus.HistogramVec
	requests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_privacy_request_seconds",
			Help:    "Seconds from a privacy request to its completion, by kind (erase, export).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 1800},
		}, []string{"kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_privacy_requests_total",
			Help: "Privacy requests finished, by kind and status (completed, failed).",
		}, []string{"kind", "status"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.seconds, m.requests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("error registering privacy metrics: %w", err)
		}
	}
	return m, nil
}
