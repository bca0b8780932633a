package pgdev

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// The cluster's files: the server log and atomically written state.

// rotateLog moves a large postgres.log aside; only called while stopped.
func (c *Cluster) rotateLog() {
	if fileSize(c.logPath) > logRotateSize {
		if err := os.Rename(c.logPath, c.logPath+".1"); err != nil {
			c.logger.Warn("could not rotate postgres log", "path", c.logPath, "err", err)
		}
	}
}

// logTail formats the last lines of the server log for an error message.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	return fmt.Sprintf("\nlast lines of %s:\n%s", c.logPath, lastLines(b, 20))
}

// logSince returns what the server logged after offset.
func (c *Cluster) logSince(offset int64) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
