package privacy

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RetentionMetrics are sweep progress figures for /metrics. A nil *RetentionMetrics records
// nothing.
type RetentionMetrics struct {
	rows      *prometheus.CounterVec
	customers prometheus.Counter
	batches   prometheus.Histogram
	running   prometheus.Gauge
	lastSweep prometheus.Gauge
}

// NewRetentionMetrics makes the metrics and registers them on reg (nil: not registered).
func NewRetentionMetrics(reg prometheus.Registerer) (*RetentionMetrics, error) {
	m := &RetentionMetrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_retention_rows_total",
			Help: "Interactions retention sweeps deleted or anonymized, by action.",
		}, []string{"action"}),
		customers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_retention_customers_removed_total",
			Help: "Customers removed because retention left them no interaction and no identity.",
		}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cairn_retention_batch_seconds",
			Help:    "Duration of retention batch transactions (≤ 10,000 interactions each).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_retention_sweep_running", Help: "1 while this process runs a retention sweep.",
		}),
		lastSweep: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_retention_last_sweep_timestamp_seconds",
			Help: "When this process last finished a retention sweep (Unix time).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.rows, m.customers, m.batches, m.running, m.lastSweep} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("error registering retention metrics: %w", err)
		}
	}
	return m, nil
}

func (m *RetentionMetrics) sweepStarted() {
	if m != nil {
		m.running.Set(1)
	}
}

func (m *RetentionMetrics) sweepFinished() {
	if m != nil {
		m.running.Set(0)
		m.lastSweep.SetToCurrentTime()
	}
}

func (m *RetentionMetrics) batchDone(action string, rows, customers int64, d time.Duration) {
	if m == nil {
		return
	}
	m.rows.WithLabelValues(action).Add(float64(rows))
	m.customers.Add(float64(customers))
	m.batches.Observe(d.Seconds())
}
