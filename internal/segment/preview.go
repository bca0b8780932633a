package segment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Preview counts the live customers matching r, without saving anything.
func (s *Service) Preview(ctx context.Context, r *Rule) (int, error) {
	if err := Validate(r); err != nil {
		return 0, err
	}
	var n int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		p, err := compile(ctx, tx, r, s.now())
		if err != nil {
			return err
		}
		q := p.Count()
		return tx.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("error counting segment preview: %w", err)
	}
	return n, nil
}

// compile compiles r over all customers, with JoinFirst when the planner's estimates say it
// pays: when the driving event condition's events, divided by the count a match needs (an upper
// bound on the customers counting first would read by primary key), exceed probeRatio-th of
// all customers (what joining first scans). The estimate costs one EXPLAIN (~1-3 ms). r must
// have passed Validate (a stored rule may no longer validate; DriverEvents expects a valid one).
func compile(ctx context.Context, tx *sql.Tx, r *Rule, now time.Time) (*Program, error) {
	opts := CompileOptions{Now: now}
	if q, k, ok := DriverEvents(r, now); ok {
		events, err := estimateRows(ctx, tx, q)
		if err != nil {
			return nil, err
		}
		var customers float64
		if err := tx.QueryRowContext(ctx, queries["customers-estimate"]).Scan(&customers); err != nil {
			return nil, fmt.Errorf("error estimating customers: %w", err)
		}
		opts.JoinFirst = events/float64(k) > customers/probeRatio
	}
	return compileValid(r, opts), nil
}

// probeRatio is how many customer rows a scan reads (evaluating a trait) in the time of one
// primary key probe. Measured on 1M customers (PLANS.md): 163k probes took ~1.0 s (6.1 µs
// each), a scan of all customers with a trait condition 0.84 s (0.84 µs a row): 7.3.
const probeRatio = 7.3

// estimateRows is the planner's row estimate for q.
func estimateRows(ctx context.Context, tx *sql.Tx, q Query) (float64, error) {
	var raw []byte
	if err := tx.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+q.SQL, q.Args...).Scan(&raw); err != nil {
		return 0, fmt.Errorf("error estimating events: %w", err)
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil {
		return 0, fmt.Errorf("error reading the events estimate: %w", err)
	}
	if len(plans) == 0 {
		return 0, errors.New("error reading the events estimate: no plan")
	}
	return plans[0].Plan.Rows, nil
}
