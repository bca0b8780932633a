package ingest

import (
	"bufio"
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"strings"
)

//go:embed queries.sql
var queriesSQL string

// statements are the named queries of queries.sql, prepared on the pool. Inside a transaction
// they are used through tx.StmtContext, which reuses the statement already prepared on the
// transaction's connection.
type statements map[string]*sql.Stmt

// parseQueries splits a file of `-- name: x` blocks into named query texts.
func parseQueries(text string) (map[string]string, error) {
	out := map[string]string{}
	var name string
	var b strings.Builder
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSpace(b.String())
		}
		b.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			flush()
			name = strings.TrimSpace(n)
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("query %q defined twice", name)
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	flush()
	return out, sc.Err()
}

func prepare(ctx context.Context, db *sql.DB, text string) (statements, error) {
	queries, err := parseQueries(text)
	if err != nil {
		return nil, err
	}
	st := statements{}
	for name, q := range queries {
		s, err := db.PrepareContext(ctx, q)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("error preparing query %s: %w", name, err)
		}
		st[name] = s
	}
	return st, nil
}

func (s statements) close() {
	for _, st := range s {
		_ = st.Close()
	}
}

// on returns the named statement bound to tx.
func (s statements) on(ctx context.Context, tx *sql.Tx, name string) *sql.Stmt {
	st, ok := s[name]
	if !ok {
		panic("ingest: unknown query " + name) // a programming error, caught by every test
	}
	return tx.StmtContext(ctx, st)
}
