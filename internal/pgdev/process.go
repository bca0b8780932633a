package pgdev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverUser is the identity initdb and pg_ctl run as. PostgreSQL refuses to
// run as root, so when we are root we drop to the "postgres" system user that
// the Debian package creates; otherwise cred is nil and we run as ourselves.
type serverUser struct {
	cred *syscall.Credential
}

func currentServerUser() (serverUser, error) {
	if os.Geteuid() != 0 {
		return serverUser{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return serverUser{}, fmt.Errorf("error looking up the postgres system user (PostgreSQL cannot run as root, "+
			"and apt-get install postgresql creates that user): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return serverUser{}, fmt.Errorf("error parsing uid %q of user postgres: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return serverUser{}, fmt.Errorf("error parsing gid %q of user postgres: %w", u.Gid, err)
	}
	return serverUser{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

func (u serverUser) isOther() bool { return u.cred != nil }

// chown hands path to the server user (a no-op when we are that user).
func (u serverUser) chown(path string) error {
	if u.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(u.cred.Uid), int(u.cred.Gid)); err != nil {
		return fmt.Errorf("error handing %s to the postgres user: %w", path, err)
	}
	return nil
}

// makeTraversable makes sure the server user can reach dir: every ancestor must
// be searchable (x) by it. As root we add only the "others" search bit where it
// is missing (t.TempDir and /root are 0700, for example); this lets other users
// reach, not list, those directories.
func (u serverUser) makeTraversable(dir string, logf func(msg string, args ...any)) error {
	if u.cred == nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("error checking permissions of %s: %w", d, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			mode := fi.Mode().Perm() | 0o001
			if err := os.Chmod(d, mode); err != nil {
				return fmt.Errorf("error making %s traversable by the postgres user: %w", d, err)
			}
			logf("made directory traversable for the postgres user", "dir", d, "mode", fmt.Sprintf("%04o", mode))
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// run executes a PostgreSQL tool as the server user in dir and returns its
// combined output. The tool runs in its own session so a postmaster started by
// pg_ctl survives Ctrl-C in our terminal and the exit of this process.
func (u serverUser) run(ctx context.Context, dir, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: u.cred}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// serverEnv is our environment minus libpq/PG* variables that could point the
// tools at another cluster, with HOME set to something the postgres user can read.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME=/tmp", "LC_ALL=C")
}

// processAlive reports whether pid names a live process (EPERM means it exists
// but belongs to another user).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// isPostmaster reports whether pid is a live postgres process serving dataDir.
// Where /proc is unavailable any live process counts, which is the safe answer.
func isPostmaster(pid int, dataDir string) bool {
	if !processAlive(pid) {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if errors.Is(err, fs.ErrNotExist) {
		// Either no /proc (not Linux) or the process just exited.
		if _, statErr := os.Stat("/proc/self"); statErr == nil {
			return false
		}
		return true
	}
	if err != nil {
		return true
	}
	if strings.TrimSpace(string(comm)) != "postgres" || isZombie(pid) {
		return false
	}
	// The postmaster chdirs into its data directory.
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return true
	}
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return true
	}
	return cwd == want
}

// isZombie reports whether pid has exited but not been reaped, which happens
// to a killed postmaster when PID 1 of a container does not reap orphans.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may hold spaces.
	i := bytes.LastIndex(b, []byte(") "))
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}
