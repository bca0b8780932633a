// Package namedsql loads the named SQL blocks that set-based code keeps in embedded .sql files
// (listmonk-style `-- name: x` headers, with the plan notes as comments), and prepares them on a
// pool at start-up so a broken query fails at boot, not at 3 a.m.
package namedsql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Parse splits src into named statements. Comment and blank lines are left out of the statement
// text and a trailing semicolon is dropped; an empty or duplicated name is an error.
func Parse(src string) (map[string]string, error) {
	out := map[string]string{}
	var name string
	var body strings.Builder
	flush := func() error {
		if name == "" {
			return nil
		}
		q := strings.TrimSuffix(strings.TrimSpace(body.String()), ";")
		if q == "" {
			return fmt.Errorf("query %q is empty", name)
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("query %q is defined twice", name)
		}
		out[name] = q
		body.Reset()
		return nil
	}
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(trimmed, "-- name:"); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			name = strings.TrimSpace(n)
			continue
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "--") || name == "" {
			continue
		}
		body.WriteString(line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// MustParse is Parse for package-level variables: it panics (at init) when src does not parse or
// lacks one of the required names. what names the file in the panic message.
func MustParse(what, src string, required ...string) map[string]string {
	qs, err := Parse(src)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", what, err))
	}
	for _, n := range required {
		if _, ok := qs[n]; !ok {
			panic(fmt.Sprintf("%s has no query %q", what, n))
		}
	}
	return qs
}

// Statements are named queries prepared on a pool.
type Statements map[string]*sql.Stmt

// Prepare parses src and prepares every query on db.
func Prepare(ctx context.Context, db *sql.DB, src string) (Statements, error) {
	queries, err := Parse(src)
	if err != nil {
		return nil, err
	}
	st := Statements{}
	for name, q := range queries {
		s, err := db.PrepareContext(ctx, q)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("error preparing query %s: %w", name, err)
		}
		st[name] = s
	}
	return st, nil
}

// Close releases every prepared statement.
func (s Statements) Close() {
	for _, st := range s {
		_ = st.Close()
	}
}

// On returns the named statement bound to tx (reusing the statement already prepared on the
// transaction's connection). An unknown name is a programming error, caught by every test.
func (s Statements) On(ctx context.Context, tx *sql.Tx, name string) *sql.Stmt {
	st, ok := s[name]
	if !ok {
		panic("namedsql: unknown query " + name)
	}
	return tx.StmtContext(ctx, st)
}
