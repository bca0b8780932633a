package pgdev

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrBinariesNotFound is returned (wrapped) by FindBinaries when no PostgreSQL
// server installation can be found.
var ErrBinariesNotFound = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found; " +
	"on Debian/Ubuntu run: apt-get install -y postgresql (or run `make run`, which installs it)")

// debianPostgresGlob is where Debian and Ubuntu install versioned server
// binaries, which are not on PATH.
const debianPostgresGlob = "/usr/lib/postgresql/*/bin"

// FindBinaries returns the directory holding initdb and pg_ctl: the one on PATH
// if both are there, otherwise the highest version under
// /usr/lib/postgresql/*/bin.
func FindBinaries() (string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(initdb)
		if isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}

	dirs, _ := filepath.Glob(debianPostgresGlob) // only ErrBadPattern, impossible here
	sort.Slice(dirs, func(i, j int) bool {
		return versionKey(dirs[i]) > versionKey(dirs[j])
	})
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", ErrBinariesNotFound
}

// versionKey turns /usr/lib/postgresql/15/bin (or 9.6) into a sortable number.
func versionKey(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// serverMajorVersion runs `pg_ctl --version` ("pg_ctl (PostgreSQL) 15.10 (Debian …)")
// and returns the major version ("15").
func serverMajorVersion(binDir string) (string, error) {
	out, err := exec.Command(filepath.Join(binDir, "pg_ctl"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("error running pg_ctl --version: %w", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return "", fmt.Errorf("unexpected pg_ctl --version output %q", out)
	}
	major, _, _ := strings.Cut(fields[2], ".")
	return major, nil
}
