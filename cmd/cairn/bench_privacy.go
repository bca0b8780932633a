package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/privacy"
	"github.com/cairn-cdp/cairn/internal/queue"
	"github.com/cairn-cdp/cairn/internal/secret"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchPrivacyCmd) }

type benchPrivacyOptions struct {
	dbURL        string
	runs         int
	interactions int
}

func newBenchPrivacyCmd() *cobra.Command {
	o := benchPrivacyOptions{}
	cmd := &cobra.Command{
		Use:   "privacy",
		Short: "Time an erasure of a person with many interactions across three merged profiles",
		Long: `Seeds, in the database in DATABASE_URL (or the local cluster), a person with three
profiles (two merged into the third), seven identifiers and --interactions events spread over the
profiles, then requests their erasure and carries it out with a recording fake destination, and
prints the time from request to completion as the request records it. Repeated --runs times, each
with a new person. Target: ≤ 2 s for 10,000 interactions. The job queue's pickup delay (River
polls every 100 ms) is not included: the erasure runs in this process right after the request.
Each run leaves only what an erasure leaves (the completed request, its audit rows and its
suppression entries, which the bench deletes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.runs < 1 || o.interactions < 1 || o.interactions > 10_000_000 {
				return errors.New("--runs must be at least 1 and --interactions between 1 and 10,000,000")
			}
			db, closeDB, err := benchDB(cmd, o.dbURL)
			if err != nil {
				return err
			}
			defer closeDB()
			return runBenchPrivacy(cmd.Context(), cmd.OutOrStdout(), db, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dbURL, "database-url", "", "database to measure (default $DATABASE_URL, else the local cluster)")
	f.IntVar(&o.runs, "runs", 3, "erasures to time, each of a new person")
	f.IntVar(&o.interactions, "interactions", 10_000, "interactions of the erased person")
	return cmd
}

// benchSeedPerson creates the person: $1..$3 profile ids (the first is the survivor), $4 a run
// tag for unique identifiers, $5 the interaction count.
const benchSeedPerson = `
WITH c AS (
  INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, phone, first_seen_at, last_seen_at, merged_into_id, merged_at)
  SELECT id, now(), now(), jsonb_build_object('email', 'bench-' || $4 || '@example.org', 'name', 'Bench Person'), '{}',
         'bench-' || $4 || '@example.org', '+14' || right($4, 9), now(), now(),
         CASE WHEN id = $1 THEN NULL ELSE $1 END, CASE WHEN id = $1 THEN NULL ELSE now() END
  FROM unnest(ARRAY[$1, $2, $3]::uuid[]) AS id
  RETURNING id
), i AS (
  INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
  SELECT gen_random_uuid(), t, v || $4, now(), now(), $1
  FROM (VALUES ('user_id', 'bench-user-'), ('email', 'bench-mail-'), ('anonymous_id', 'bench-anon-a-'),
               ('anonymous_id', 'bench-anon-b-'), ('anonymous_id', 'bench-anon-c-'),
               ('device_id', 'bench-device-'), ('phone', '+1415666')) AS x(t, v)
  RETURNING 1
)
INSERT INTO interactions (id, kind, event, properties, context, occurred_at, received_at, message_id, source, channel, customer_id)
SELECT gen_random_uuid(), 'track', 'Product Viewed', jsonb_build_object('sku', 'sku-' || (g % 50)),
       jsonb_build_object('traits', jsonb_build_object('email', 'bench-' || $4 || '@example.org')),
       now() - make_interval(mins => g), now(), 'bench-' || $4 || '-' || g, 'bench', 'web',
       (ARRAY[$1, $2, $3]::uuid[])[1 + g % 3]
FROM generate_series(1, $5::int) AS g`

func runBenchPrivacy(ctx context.Context, w io.Writer, db *sql.DB, o benchPrivacyOptions) error {
	key := os.Getenv(secret.EnvKey)
	if len(key) < secret.MinKeyLength {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		key = hex.EncodeToString(raw)
	}
	box, err := secret.New(key)
	if err != nil {
		return err
	}
	sched := &benchScheduler{}
	svc, err := privacy.New(privacy.Config{DB: db, Box: box, Scheduler: sched, Destinations: &benchDestinations{},
		SweepAfter: time.Millisecond}) // the sweep runs after completion, outside the figure
	if err != nil {
		return err
	}
	var took []time.Duration
	for run := range o.runs {
		tag := fmt.Sprintf("%d%04d", time.Now().UnixNano(), run)
		ids := []uuid.UUID{uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())}
		if _, err := db.ExecContext(ctx, benchSeedPerson, ids[0], ids[1], ids[2], tag, o.interactions); err != nil {
			return fmt.Errorf("error seeding the person: %w", err)
		}
		req, err := svc.RequestErasure(ctx, "cli", "user_id", "bench-user-"+tag)
		if err != nil {
			return err
		}
		counts, err := svc.Erase(ctx, req.ID, 0)
		if err != nil {
			return err
		}
		var requested, completed time.Time
		if err := db.QueryRowContext(ctx, `SELECT requested_at, completed_at FROM privacy_requests WHERE id = $1`, req.ID).Scan(&requested, &completed); err != nil {
			return fmt.Errorf("error reading the request: %w", err)
		}
		d := completed.Sub(requested)
		if _, err := db.ExecContext(ctx, `DELETE FROM suppressions WHERE request_id = $1`, req.ID); err != nil {
			return fmt.Errorf("error deleting the bench's suppressions: %w", err)
		}
		took = append(took, d)
		fmt.Fprintf(w, "run %d: %d profiles, %d identities, %d interactions erased, %d identifiers suppressed: request→complete %s\n",
			run+1, counts.Profiles, counts.Identities, counts.Interactions, counts.Suppressed, d.Round(time.Millisecond))
	}
	slices.Sort(took)
	fmt.Fprintf(w, "request→complete: best %s, median %s, worst %s (target ≤ 2s for 10,000 interactions)\n",
		took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	return nil
}

// benchScheduler enqueues nothing: the bench runs the erasure itself.
type benchScheduler struct{}

func (benchScheduler) ScheduleErasure(context.Context, *sql.Tx, uuid.UUID) (*queue.Job, error) {
	return &queue.Job{Kind: "privacy_erase"}, nil
}

func (benchScheduler) ScheduleExport(context.Context, *sql.Tx, uuid.UUID) (*queue.Job, error) {
	return &queue.Job{Kind: "privacy_export"}, nil
}

// benchDestinations records what an erasure asks the destinations to remove.
type benchDestinations struct {
	mu     sync.Mutex
	emails int
}

func (d *benchDestinations) EraseEverywhere(_ context.Context, _ *sql.Tx, _ []uuid.UUID, emails []string) error {
	d.mu.Lock()
	d.emails += len(emails)
	d.mu.Unlock()
	return nil
}

func (d *benchDestinations) WithdrawEverywhere(context.Context, *sql.Tx, uuid.UUID) error { return nil }
