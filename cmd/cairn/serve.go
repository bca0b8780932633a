package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/graph"
	"github.com/cairn-cdp/cairn/internal/app"
	"github.com/cairn-cdp/cairn/internal/auth"
	"github.com/cairn-cdp/cairn/internal/campaign"
	"github.com/cairn-cdp/cairn/internal/geoip"
	"github.com/cairn-cdp/cairn/internal/identity"
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/server"
	"github.com/cairn-cdp/cairn/jobs"
)

// drainTimeout is how long in-flight requests and running jobs get to finish on shutdown; jobs
// still running after it are cancelled and River retries them later.
const drainTimeout = 20 * time.Second

func newServeCmd() *cobra.Command {
	var workers int
	var bootstrap bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API (GraphQL, tracking API) and the background workers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if workers < 0 {
				return errors.New("--workers must be 0 (API only) or more")
			}
			ic, err := loadIngestConfig()
			if err != nil {
				return err
			}
			if _, err := app.FromEnv().GraphQLOptions(); err != nil {
				return err // refused before the database starts
			}
			a, err := open(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close(context.Background()) //nolint:errcheck
			if bootstrap {
				if err := bootstrapAdminKey(cmd, a); err != nil {
					return err
				}
			}
			return runServe(cmd.Context(), a, ic, workers)
		},
	}
	cmd.Flags().IntVar(&workers, "workers", 20, "job workers in this process (0: API only)")
	cmd.Flags().BoolVar(&bootstrap, "bootstrap-admin-key", false, "create and print an admin API key if no active one exists (first run)")
	return cmd
}

func newWorkerCmd() *cobra.Command {
	var workers int
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run background workers only (scale out by running more)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := open(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close(context.Background()) //nolint:errcheck
			w, err := wire(a, workers, nil)
			if err != nil {
				return err
			}
			if !w.runnable {
				return errors.New("no workers to run (--workers must be > 0)")
			}
			// Not cancelled with the command: stopRiver stops it so running jobs can finish.
			if err := w.river.Start(context.WithoutCancel(cmd.Context())); err != nil {
				return fmt.Errorf("error starting workers: %w", err)
			}
			a.Log.Info("cairn worker started", "workers", workers)
			<-cmd.Context().Done()
			return stopRiver(a, w.river)
		},
	}
	cmd.Flags().IntVar(&workers, "workers", 20, "job workers in this process")
	return cmd
}

// wired is the assembled runtime shared by serve and worker.
type wired struct {
	river    *jobs.Client
	runnable bool // river has workers to run
	keys     *auth.Keys
	privacy  *privacy.Service
}

// wire builds the River client and the services its workers call; reg receives their metrics
// (nil: none).
func wire(a *app.App, workers int, reg prometheus.Registerer) (*wired, error) {
	// The privacy service enqueues through River (its own jobs, and the campaign destinations'
	// erase and withdraw jobs) and River's workers call it: the schedulers get their client
	// once that exists.
	sched := &jobs.PrivacyScheduler{}
	dests := campaignDestinations(a)
	destQueue := &jobs.CampaignPrivacyQueue{}
	priv, err := openPrivacy(a, sched, &campaign.Privacy{DB: a.DB, Destinations: dests, Queue: destQueue}, reg)
	if err != nil {
		return nil, err
	}
	deps := jobs.Deps{DB: a.DB, Client: a.Client, Log: a.Log, Registerer: reg, Privacy: priv, Destinations: dests,
		Tracking: campaignTracking(a)}
	rc, runnable, err := jobs.NewClient(deps, jobs.Options{RunWorkers: workers > 0, MaxWorkers: workers})
	if err != nil {
		return nil, err
	}
	sched.Client = rc
	destQueue.Client = rc
	return &wired{river: rc, runnable: runnable, keys: auth.NewKeys(a.DB, a.Log), privacy: priv}, nil
}

// ingestConfig is the identity and ingest configuration from the environment. serve and import
// read it before anything else, so a bad setting is refused before the database is started and
// migrated, the input opened, or serve's bootstrap key written.
type ingestConfig struct {
	identity identity.Config
	pipeline ingest.Options
	handler  ingest.HandlerOptions
	// geo is the geolocation database (nil: off, geoStatus says why); open for the process's
	// life.
	geo       *geoip.DB
	geoStatus string
}

func loadIngestConfig() (ingestConfig, error) {
	cfg := app.FromEnv()
	idCfg, err := cfg.IdentityConfig()
	if err != nil {
		return ingestConfig{}, err
	}
	pipeOpts, err := cfg.IngestOptions()
	if err != nil {
		return ingestConfig{}, err
	}
	handlerOpts, err := cfg.TrackingOptions()
	if err != nil {
		return ingestConfig{}, err
	}
	geo, geoStatus, err := cfg.OpenGeoIP()
	if err != nil {
		return ingestConfig{}, err
	}
	return ingestConfig{identity: idCfg, pipeline: pipeOpts, handler: handlerOpts, geo: geo, geoStatus: geoStatus}, nil
}

// openIngest builds the identity resolver and the ingest pipeline from ic (serve and import);
// reg receives the pipeline's metrics (nil: none). Close the pipeline, then the resolver.
// sup, when set, drops messages carrying suppressed identifiers.
func openIngest(ctx context.Context, a *app.App, ic ingestConfig, reg prometheus.Registerer, sup *privacy.Suppressions) (*identity.Resolver, *ingest.Pipeline, error) {
	idCfg, pipeOpts := ic.identity, ic.pipeline
	if sup != nil {
		pipeOpts.Suppressor = sup
	}
	res, err := identity.New(ctx, a.DB, idCfg, a.Log)
	if err != nil {
		return nil, nil, err
	}
	pipeOpts.Registerer, pipeOpts.Log = reg, a.Log
	if ic.geo != nil {
		pipeOpts.Geo = ic.geo
	}
	a.Log.Info(ic.geoStatus)
	pipe, err := ingest.NewPipeline(ctx, a.DB, res, &pipeOpts)
	if err != nil {
		res.Close()
		return nil, nil, err
	}
	return res, pipe, nil
}

func runServe(ctx context.Context, a *app.App, ic ingestConfig, workers int) error {
	registry := prometheus.NewRegistry()
	w, err := wire(a, workers, registry)
	if err != nil {
		return err
	}
	if err := runSuppressions(ctx, w.privacy.Suppressions(), a.Log); err != nil {
		return err
	}
	// The ingest pipeline's writers live as long as the server: closed after the HTTP server has
	// drained, so every request it accepted is committed and answered.
	ident, pipe, err := openIngest(ctx, a, ic, registry, w.privacy.Suppressions())
	if err != nil {
		return err
	}
	defer ident.Close()
	defer pipe.Close() //nolint:errcheck // Close only waits for the writers
	tracking := campaignTracking(a)
	var emailTrack http.Handler
	if et := emailTracking(a, tracking, pipe); et != nil {
		defer et.Close() // after HTTP drains, before the pipeline closes
		emailTrack = et
	}
	resolver := &graph.Resolver{
		DB: a.DB, Client: a.Client, Keys: w.keys, Log: a.Log,
		Normalize: ident.Normalize,
		Identity:  ident,
		// The job queue, River-free to graph: jobs/ adapts the River client to each interface.
		Jobs:          jobs.Reader{Client: w.river},
		SegmentJobs:   jobs.SegmentScheduler{Client: w.river},
		RFMJobs:       jobs.RFMScheduler{Client: w.river},
		RetentionJobs: jobs.RetentionScheduler{Client: w.river},
		Collection:    collection(ic.pipeline),
		// campaigns
		Destinations:  campaignDestinations(a),
		CampaignSyncs: jobs.CampaignJobs{Client: w.river, DB: a.DB},
		Tracking:      tracking,
		Privacy:       w.privacy,
	}
	if a.Config.DebugAddr != "" {
		stop, err := serveDebug(a.Config.DebugAddr, a)
		if err != nil {
			return err
		}
		defer stop()
	}
	gq, err := a.Config.GraphQLOptions()
	if err != nil {
		return err
	}
	trackingOpts := ic.handler
	trackingOpts.Log = a.Log
	srv := server.New(server.Config{DB: a.DB, Keys: w.keys, Resolver: resolver, Log: a.Log,
		Registry: registry, Tracking: ingest.NewHandler(pipe, w.keys, &trackingOpts),
		GraphQLRate: server.RateLimit{Rate: gq.Rate, Burst: gq.Burst}, GraphQLTimeout: gq.Timeout,
		People: w.privacy.Handler(a.Log), EmailTracking: emailTrack})
	if w.runnable {
		// Not cancelled with ctx: stopRiver stops it after HTTP drains, so running jobs can finish.
		if err := w.river.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("error starting workers: %w", err)
		}
	}
	err = srv.Run(ctx, a.Config.Addr, drainTimeout, func(addr net.Addr) {
		base := app.BaseURL(addr.String())
		a.Log.Info("cairn is serving", "addr", addr.String(), "graphql", base+"/graphql", "playground", base+"/playground", "workers", workers)
	})
	var stopErr error
	if w.runnable {
		stopErr = stopRiver(a, w.river)
	}
	return errors.Join(err, stopErr)
}

// stopRiver lets running jobs finish, then cancels what remains (River retries those).
func stopRiver(a *app.App, rc *jobs.Client) error {
	a.Log.Info("stopping workers")
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := rc.Stop(ctx); err != nil {
		hard, cancelHard := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelHard()
		if err := rc.StopAndCancel(hard); err != nil {
			return fmt.Errorf("error stopping workers: %w", err)
		}
	}
	return nil
}

// bootstrapAdminKey creates the first admin key on a new installation and prints its secret.
func bootstrapAdminKey(cmd *cobra.Command, a *app.App) error {
	keys := auth.NewKeys(a.DB, a.Log)
	ctx := auth.WithPrincipal(cmd.Context(), cliPrincipal)
	has, err := keys.HasActiveAdmin(ctx)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if has {
		fmt.Fprintln(out, "An admin API key already exists; create more with: ./bin/cairn keys create --name NAME --scopes read")
		return nil
	}
	created, err := keys.Create(ctx, "bootstrap admin", []auth.Scope{auth.ScopeAdmin})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nCreated the first admin API key (%s). It is shown once; store it now:\n\n    %s\n\n", created.Key.ID, created.Secret)
	fmt.Fprintf(out, "Try: curl -s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n       -d '{\"query\":\"{ customers(first: 5) { totalCount } }\"}' %s/graphql\n\n", created.Secret, app.BaseURL(a.Config.Addr))
	return nil
}

// serveDebug exposes net/http/pprof on addr (CAIRN_DEBUG_ADDR), which must be a loopback
// address: the profiles have no authentication.
func serveDebug(addr string, a *app.App) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("invalid CAIRN_DEBUG_ADDR %q: want host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("invalid CAIRN_DEBUG_ADDR %q: profiles have no authentication, so it must be a loopback address (e.g. 127.0.0.1:6060)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("error listening on CAIRN_DEBUG_ADDR: %w", err)
	}
	// Blocking (channel waits, locks, 1 event per 100µs blocked) and contended mutexes (1 in
	// 10) are sampled too, for /debug/pprof/block and /debug/pprof/mutex: where a writer waits
	// is as telling as where it spends CPU.
	runtime.SetBlockProfileRate(100_000)
	runtime.SetMutexProfileFraction(10)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	a.Log.Info("serving Go profiles", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	return func() { _ = srv.Close() }, nil
}
