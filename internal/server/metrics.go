package server

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg        *prometheus.Registry
	httpDur    *prometheus.HistogramVec
	operations *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, db *sql.DB) *metrics {
	m := &metrics{
		reg: reg,
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_graphql_operations_total",
			Help: "GraphQL operations by type and operation name.",
		}, []string{"type", "name"}),
	}
	reg.MustRegister(m.httpDur, m.operations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db, "cairn"),
		&riverCollector{db: db, desc: prometheus.NewDesc("cairn_river_jobs",
			"River jobs by kind and state (read from river_job at scrape time).", []string{"kind", "state"}, nil)},
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.httpDur.WithLabelValues(routeOf(r), strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
	})
}

func (m *metrics) countOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Operation != nil {
		name := oc.Operation.Name
		if name == "" {
			name = "anonymous"
		}
		if len(name) > 64 {
			name = name[:64] // bound label cardinality from client-chosen names
		}
		m.operations.WithLabelValues(string(oc.Operation.Operation), name).Inc()
	}
	return next(ctx)
}

// riverCollector reports job counts per kind and state from River's table. Reading the table at
// scrape time covers every `cairn worker` process, not just this one.
type riverCollector struct {
	db   *sql.DB
	desc *prometheus.Desc
}

func (c *riverCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *riverCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT kind, state::text, count(*) FROM river_job GROUP BY 1, 2`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n float64
		if err := rows.Scan(&kind, &state, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, n, kind, state)
	}
}
