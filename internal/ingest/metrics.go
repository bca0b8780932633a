package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	events        *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	merges        prometheus.Counter
	conflicts     prometheus.Counter
	limited       prometheus.Counter
	retries       prometheus.Counter
	groupSize     prometheus.Histogram
	commitSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_ingest_events_total",
			Help: "Messages the ingest pipeline committed, by result (stored, duplicate).",
		}, []string{"result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_ingest_dropped_events_total",
			Help: "Messages not stored, by reason (consent: the customer denied analytics; suppressed: an identifier of an erased person; invalid_<field>, invalid: a batch item or pixel message failed validation at that field; too_large; unauthorized, failed: a pixel with a bad write key, or not committed).",
		}, []string{"reason"}),
		merges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_identity_merges_total", Help: "Customer profiles merged by ingestion.",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_identity_conflicts_total", Help: "Links refused by identity guards (second user_id, identifier limits).",
		}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_identity_limited_total", Help: "New identifiers not linked because the profile held the maximum of their type.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_ingest_retries_total", Help: "Group transactions retried after losing a race with a concurrent writer.",
		}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cairn_ingest_group_messages", Help: "Messages per group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cairn_ingest_commit_seconds", Help: "Duration of group-commit transactions.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.dropped, m.merges, m.conflicts, m.limited, m.retries, m.groupSize, m.commitSeconds} {
		// A second pipeline on one registry is refused: its metrics would not be the ones exported.
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("error registering ingest metrics: %w", err)
		}
	}
	return m, nil
}
