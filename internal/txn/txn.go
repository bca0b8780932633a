// Package txn runs work in one database transaction that both ent and River share: an ent client
// bound to the *sql.Tx does the mutations, and River's InsertTx enqueues the jobs they make
// necessary on the same *sql.Tx, so both commit or neither does.
package txn

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/internal/stmtcache"
)

// Func is the work done inside a transaction.
type Func func(ctx context.Context, tx *sql.Tx, client *ent.Client) error

// Run begins a transaction on db, calls fn with the tx and an ent client bound to it, and commits
// if fn returns nil; otherwise it rolls back and returns fn's error.
func Run(ctx context.Context, db *sql.DB, fn Func) error {
	return RunOpts(ctx, db, nil, fn)
}

// RunOpts is Run with transaction options (isolation level, read-only).
func RunOpts(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn Func) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("error beginning transaction: %w", err)
	}
	if err := fn(ctx, tx, Client(tx)); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("error committing transaction: %w", err)
	}
	return nil
}

// Client returns an ent client whose every statement runs on tx.
func Client(tx *sql.Tx) *ent.Client {
	return ent.NewClient(ent.Driver(txDriver{entsql.NewDriver(dialect.Postgres, entsql.Conn{ExecQuerier: tx})}))
}

// txDriver is an ent driver bound to an open *sql.Tx. ent begins its own transaction for some
// operations (UpdateOne, client.Tx); inside an outer transaction those become no-op nested
// transactions whose statements run on the outer one, which alone commits.
type txDriver struct{ *entsql.Driver }

func (d txDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }

func (d txDriver) BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error) {
	return dialect.NopTx(d.Driver), nil
}

// preparedStatements bounds the distinct statements a pool client prepares (stmtcache.Use).
const preparedStatements = 32

// NewClient returns an ent client on the pool db; queries whose context is marked with
// stmtcache.Use run as prepared statements.
func NewClient(db *sql.DB) *ent.Client {
	return ent.NewClient(ent.Driver(stmtcache.Wrap(entsql.OpenDB(dialect.Postgres, db), db, preparedStatements)))
}
