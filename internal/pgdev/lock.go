package pgdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// dirLock is an exclusive flock on Dir/.lock, held while a process inspects,
// initialises or starts the cluster. flock locks belong to the open file, so
// it excludes other goroutines of this process as well as other processes, and
// the kernel drops it if the holder dies.
type dirLock struct{ f *os.File }

func lockDir(ctx context.Context, path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("error opening lock file %s: %w", path, err)
	}
	// Poll rather than block so that ctx can cancel the wait.
	wait := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &dirLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("error locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("error waiting for lock %s (another process is starting the cluster): %w", path, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func (l *dirLock) unlock() {
	// Closing the file releases the flock.
	l.f.Close()
}
