package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procCPU is the user and system CPU time process pid has used, from /proc/<pid>/stat; ok is
// false where it cannot be read (another machine's process, no /proc).
func procCPU(pid int) (d time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	d, err = parseProcStat(string(b))
	return d, err == nil
}

// parseProcStat reads utime + stime (fields 14 and 15) of a /proc/<pid>/stat line; the command
// name (field 2) is parenthesised and may hold spaces, so fields count from its closing ')'.
func parseProcStat(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("not a /proc/<pid>/stat line")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("not a /proc/<pid>/stat line")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// phaseCPU measures, over one phase, the CPU time of the server process (when its pid is
// known and on this machine) and of the PostgreSQL backends connected to the bench's
// database (when PostgreSQL runs on this machine). Per request these are steadier than
// requests/s on a shared machine. A backend that exits during the phase takes its time with
// it; the pools keep theirs open, so in practice none does.
type phaseCPU struct {
	db        *sql.DB
	serverPID int
	server    time.Duration
	serverOK  bool
	backends  map[int]time.Duration
}

func startPhaseCPU(ctx context.Context, db *sql.DB, serverPID int) *phaseCPU {
	m := &phaseCPU{db: db, serverPID: serverPID}
	if serverPID > 0 {
		m.server, m.serverOK = procCPU(serverPID)
	}
	m.backends = backendsCPU(ctx, db)
	return m
}

// stop records the phase's CPU times in p (left zero when unknown).
func (m *phaseCPU) stop(ctx context.Context, p *ClosedLoop) {
	if m.serverOK {
		if d, ok := procCPU(m.serverPID); ok && d >= m.server {
			p.ServerCPU = d - m.server
		}
	}
	if m.backends == nil {
		return
	}
	var sum time.Duration
	for pid, d := range backendsCPU(ctx, m.db) {
		if d > m.backends[pid] {
			sum += d - m.backends[pid]
		}
	}
	p.DBCPU = sum
}

// backendsCPU maps each backend of db's database to its CPU time so far; nil when none can be
// read (PostgreSQL on another machine).
func backendsCPU(ctx context.Context, db *sql.DB) map[int]time.Duration {
	rows, err := db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out map[int]time.Duration
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return nil
		}
		if d, ok := procCPU(pid); ok {
			if out == nil {
				out = map[int]time.Duration{}
			}
			out[pid] = d
		}
	}
	if rows.Err() != nil {
		return nil
	}
	return out
}
