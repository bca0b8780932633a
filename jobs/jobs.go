// Package jobs owns everything River: Cairn's jobs (args and worker, one file per job, each
// worker calling into internal/), the periodic schedule, and the River client that `cairn
// serve` and `cairn worker` share. It adapts River to the River-free interfaces the rest of
// Cairn declares (segment.Scheduler, rfm.Scheduler, queue.Reader: queue.go), using InsertTx
// where a job must commit with the change that made it necessary; cmd plugs these adapters into
// graph, which never imports this package.
package jobs

import (
	"cmp"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/privacy"
)

// Deps are what workers need; cmd builds it once.
type Deps struct {
	DB     *sql.DB
	Client *ent.Client
	Log    *slog.Logger
	// Destinations opens campaign destinations (sealer and provider constructor); nil makes
	// campaign syncs fail with "no provider is configured".
	Destinations *campaign.Destinations
	// Tracking, when set, gives each synced contact its open and click tracking merge fields.
	Tracking *campaign.Tracking
	// Registerer receives workers' metrics (retention progress); nil registers none.
	Registerer prometheus.Registerer
	// Privacy runs erasures and exports; nil registers no privacy workers.
	Privacy *privacy.Service
}

// Options configure the River client.
type Options struct {
	// RunWorkers starts workers and periodic jobs; false makes an insert-only client (CLI).
	RunWorkers bool
	// MaxWorkers per process on the default queue (default 20).
	MaxWorkers int
	// FetchPollInterval (default 100 ms): the database/sql driver has no LISTEN/NOTIFY, so
	// workers poll.
	FetchPollInterval time.Duration
}

// Client is the River client type: jobs insert on the same *sql.Tx that ent uses.
type Client = river.Client[*sql.Tx]

// NewClient builds the River client on db. runnable is true when the client has workers to run
// (opts.RunWorkers and at least one registered worker); only then may it be started.
func NewClient(deps Deps, opts Options) (client *Client, runnable bool, err error) {
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	cfg := &river.Config{
		Logger:            deps.Log.With("component", "river"),
		FetchPollInterval: cmp.Or(opts.FetchPollInterval, 100*time.Millisecond),
		FetchCooldown:     50 * time.Millisecond,
		JobTimeout:        10 * time.Minute,
		// The dirty-customer drain runs every second; keep its finished rows an hour rather than
		// River's default day so river_job stays small.
		CompletedJobRetentionPeriod: time.Hour,
	}
	workers := river.NewWorkers()
	n, err := register(workers, deps)
	if err != nil {
		return nil, false, err
	}
	cfg.Workers = workers
	if opts.RunWorkers && n > 0 {
		n := opts.MaxWorkers
		if n <= 0 {
			n = 20
		}
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}}
		cfg.PeriodicJobs = periodicJobs(deps)
	}
	client, err = river.NewClient(riverdatabasesql.New(deps.DB), cfg)
	if err != nil {
		return nil, false, fmt.Errorf("error creating River client: %w", err)
	}
	return client, cfg.Queues != nil, nil
}

// register adds every worker and returns how many. Each job file adds its worker here with
// river.AddWorkerSafely.
func register(workers *river.Workers, deps Deps) (int, error) {
	n := 0
	k, err := registerSegmentWorkers(workers, deps)
	if err != nil {
		return 0, err
	}
	n += k
	if err := river.AddWorkerSafely(workers, NewComputeRFMWorker(deps)); err != nil {
		return 0, fmt.Errorf("error registering the compute_rfm worker: %w", err)
	}
	n++
	k, err = registerCampaignWorkers(workers, deps)
	if err != nil {
		return 0, err
	}
	n += k
	k, err = registerCampaignPrivacyWorkers(workers, deps)
	if err != nil {
		return 0, err
	}
	n += k
	k, err = registerPrivacyWorkers(workers, deps)
	if err != nil {
		return 0, err
	}
	n += k
	rm, err := privacy.NewRetentionMetrics(deps.Registerer)
	if err != nil {
		return 0, err
	}
	if err := river.AddWorkerSafely(workers, NewApplyRetentionWorker(deps, rm)); err != nil {
		return 0, fmt.Errorf("error registering the apply_retention worker: %w", err)
	}
	n++
	return n, nil
}

// periodicJobs is the schedule of recurring jobs.
func periodicJobs(deps Deps) []*river.PeriodicJob {
	var jobs []*river.PeriodicJob
	jobs = append(jobs, segmentPeriodicJobs()...)
	jobs = append(jobs, computeRFMPeriodic())
	jobs = append(jobs, campaignPeriodicJobs()...)
	jobs = append(jobs, applyRetentionPeriodic())
	jobs = append(jobs, privacyPeriodicJobs(deps)...)
	return jobs
}
