// Package app owns Cairn's configuration and start-up: it reads the CAIRN_* environment into a
// Config (and turns it into the ingest and identity options), makes the logger, opens the
// database (the configured DATABASE_URL, or a private local cluster under ./.cairn/pg) and
// applies migrations. cmd/cairn builds every command on it; app wires no HTTP, GraphQL or jobs.
package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/migrate"
	"github.com/cairn-cdp/cairn/internal/pgdev"
	"github.com/cairn-cdp/cairn/internal/requestid"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Config is Cairn's environment-driven configuration.
type Config struct {
	DatabaseURL string // DATABASE_URL; empty means a local cluster
	Addr        string // CAIRN_ADDR, default ":8080"
	SecretKey   []byte // CAIRN_SECRET_KEY; generated into DataDir in local mode when unset
	LogFormat   string // CAIRN_LOG_FORMAT: "text" (default) or "json"
	LogLevel    string // CAIRN_LOG_LEVEL: debug, info (default), warn, error
	DataDir     string // CAIRN_DATA_DIR, default "./.cairn"
	KeepIP      bool   // CAIRN_KEEP_IP: store context.ip untruncated
	// IngestWriters is CAIRN_INGEST_WRITERS: concurrent ingest transactions (empty: the
	// default, 2); IngestOptions checks it.
	IngestWriters string
	// Identity resolution and ingestion settings, as read; IdentityConfig and IngestOptions
	// parse and check them (ingestconfig.go).
	IdentityLimits    string // CAIRN_IDENTITY_LIMITS
	IdentityBlocklist string // CAIRN_IDENTITY_BLOCKLIST
	PhoneRegion       string // CAIRN_PHONE_REGION
	SeenGranularity   string // CAIRN_SEEN_GRANULARITY
	ConsentPurposes   string // CAIRN_CONSENT_PURPOSES
	DropContext       string // CAIRN_DROP_CONTEXT
	TrustedProxies    string // CAIRN_TRUSTED_PROXIES
	GeoIP             string // CAIRN_GEOIP: "off" disables geolocation
	GeoIPDB           string // CAIRN_GEOIP_DB
	// DebugAddr is CAIRN_DEBUG_ADDR: when set, serve exposes Go's pprof profiles there (a
	// loopback address such as 127.0.0.1:6060; it has no authentication). Off by default.
	DebugAddr string
	// GraphQL limits per key and request, as read; GraphQLOptions parses them.
	GraphQLRate    string // CAIRN_GRAPHQL_RATE
	GraphQLBurst   string // CAIRN_GRAPHQL_BURST
	GraphQLTimeout string // CAIRN_GRAPHQL_TIMEOUT
}

// FromEnv reads Config from the environment.
func FromEnv() Config {
	return Config{
		DatabaseURL:   os.Getenv("DATABASE_URL"),
		Addr:          envOr("CAIRN_ADDR", ":8080"),
		SecretKey:     []byte(os.Getenv("CAIRN_SECRET_KEY")),
		LogFormat:     envOr("CAIRN_LOG_FORMAT", "text"),
		LogLevel:      envOr("CAIRN_LOG_LEVEL", "info"),
		DataDir:       envOr("CAIRN_DATA_DIR", ".cairn"),
		KeepIP:        os.Getenv("CAIRN_KEEP_IP") == "true",
		IngestWriters: os.Getenv("CAIRN_INGEST_WRITERS"),
		DebugAddr:     os.Getenv("CAIRN_DEBUG_ADDR"),

		GraphQLRate:    os.Getenv("CAIRN_GRAPHQL_RATE"),
		GraphQLBurst:   os.Getenv("CAIRN_GRAPHQL_BURST"),
		GraphQLTimeout: os.Getenv("CAIRN_GRAPHQL_TIMEOUT"),

		IdentityLimits:    os.Getenv("CAIRN_IDENTITY_LIMITS"),
		IdentityBlocklist: os.Getenv("CAIRN_IDENTITY_BLOCKLIST"),
		PhoneRegion:       os.Getenv("CAIRN_PHONE_REGION"),
		SeenGranularity:   os.Getenv("CAIRN_SEEN_GRANULARITY"),
		ConsentPurposes:   os.Getenv("CAIRN_CONSENT_PURPOSES"),
		DropContext:       os.Getenv("CAIRN_DROP_CONTEXT"),
		TrustedProxies:    os.Getenv("CAIRN_TRUSTED_PROXIES"),
		GeoIP:             os.Getenv("CAIRN_GEOIP"),
		GeoIPDB:           os.Getenv("CAIRN_GEOIP_DB"),
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// NewLogger builds the slog logger the config asks for.
func (c Config) NewLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("invalid CAIRN_LOG_LEVEL %q: use debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(requestid.NewHandler(slog.NewJSONHandler(w, opts))), nil
	case "text", "":
		return slog.New(requestid.NewHandler(slog.NewTextHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("invalid CAIRN_LOG_FORMAT %q: use json or text", c.LogFormat)
}

// App is an open Cairn: database pool, ent client and, in local mode, the cluster it started.
type App struct {
	Config  Config
	Log     *slog.Logger
	DB      *sql.DB
	Client  *ent.Client
	Cluster *pgdev.Cluster // nil when DATABASE_URL is set
}

// OpenOptions control Open.
type OpenOptions struct {
	// Migrate applies pending migrations after connecting.
	Migrate bool

	migrating func() // called as migrations start (tests interrupt Open there)
}

// shutdownTimeout bounds the clean-up of an Open that failed or was interrupted: it runs on a
// fresh context, since the caller's is often the very one that was cancelled (Ctrl-C), and an
// already-cancelled context would leave the local PostgreSQL running.
const shutdownTimeout = 60 * time.Second

// Open connects to the database (starting the local cluster if needed), checks it answers, and
// optionally migrates it.
func Open(ctx context.Context, cfg Config, log *slog.Logger, opts OpenOptions) (*App, error) {
	a := &App{Config: cfg, Log: log}
	logWhere(log, cfg)
	dsn := cfg.DatabaseURL
	if dsn == "" {
		cluster, err := pgdev.Start(ctx, pgdev.Options{Dir: filepath.Join(cfg.DataDir, "pg"), Logger: log})
		if err != nil {
			return nil, fmt.Errorf("error starting local PostgreSQL (set DATABASE_URL to use your own): %w", err)
		}
		a.Cluster = cluster
		dsn = cluster.URL()
		if len(cfg.SecretKey) == 0 {
			key, err := localSecret(cfg.DataDir)
			if err != nil {
				a.closeAfterFailure()
				return nil, err
			}
			a.Config.SecretKey = key
		}
	}
	if len(a.Config.SecretKey) == 0 {
		a.closeAfterFailure()
		return nil, errors.New("CAIRN_SECRET_KEY must be set when DATABASE_URL is set (campaign tracking links and destination secrets will be keyed by it, so it must not change); generate one with: openssl rand -hex 32")
	}
	db, err := OpenDB(ctx, dsn)
	if err != nil {
		a.closeAfterFailure()
		return nil, err
	}
	a.DB = db
	a.Client = txn.NewClient(db)
	if opts.Migrate {
		if opts.migrating != nil {
			opts.migrating()
		}
		res, err := migrate.Apply(ctx, db)
		if err != nil {
			a.closeAfterFailure()
			return nil, fmt.Errorf("error migrating database: %w", err)
		}
		if len(res.Applied)+len(res.RiverApplied) > 0 {
			log.Info("migrations applied", "cairn", res.Applied, "river", res.RiverApplied)
		}
	}
	return a, nil
}

// OpenDB opens and pings a lib/pq pool, with an error that says what is wrong with the URL
// without echoing its password.
func OpenDB(ctx context.Context, dsn string) (*sql.DB, error) {
	if _, err := pq.ParseURL(dsn); err != nil && strings.Contains(dsn, "://") {
		// url.Error repeats the whole URL, password included: keep only its reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("invalid DATABASE_URL: %v (expected postgres://user:password@host:port/dbname?sslmode=disable)", err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid DATABASE_URL (%s): %w", pgdev.RedactDSN(dsn), err)
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot connect to PostgreSQL at %s: %w", pgdev.RedactDSN(dsn), err)
	}
	return db, nil
}

// Close releases the pool and stops the local cluster if this process started it.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.DB != nil {
		errs = append(errs, a.DB.Close())
	}
	if a.Cluster != nil && a.Cluster.Owned() {
		errs = append(errs, a.Cluster.Stop(ctx))
	}
	return errors.Join(errs...)
}

// closeAfterFailure closes what Open has opened so far, on a fresh bounded context.
func (a *App) closeAfterFailure() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		a.Log.Error("error cleaning up after a failed start", "error", err)
	}
}

// localSecret reads, or creates on first use, DataDir/secret.key. The file is written whole
// (temp file, then rename), so a crash cannot leave an empty key behind.
func localSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if key == "" {
			return nil, fmt.Errorf("%s is empty: delete it to generate a new key, or set CAIRN_SECRET_KEY", path)
		}
		return []byte(key), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("error reading %s: %w", path, err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("error generating secret key: %w", err)
	}
	key := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("error creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "secret.key.*")
	if err != nil {
		return nil, fmt.Errorf("error writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("error writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("error writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("error writing %s: %w", path, err)
	}
	return []byte(key), nil
}
