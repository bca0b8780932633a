package app

import (
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/cairn-cdp/cairn/internal/pgdev"
)

// logWhere says which data directory and database a command uses, before it touches either:
// run from another folder, a relative CAIRN_DATA_DIR is a different (new, empty) installation.
func logWhere(log *slog.Logger, cfg Config) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		dir = cfg.DataDir
	}
	if cfg.DatabaseURL != "" {
		log.Info("using the database of DATABASE_URL", "database", pgdev.RedactDSN(cfg.DatabaseURL))
		return
	}
	_, err = os.Stat(filepath.Join(dir, "pg", "data"))
	fresh := errors.Is(err, fs.ErrNotExist)
	msg := "using the local PostgreSQL in the data directory (CAIRN_DATA_DIR; set DATABASE_URL to use your own)"
	if fresh {
		msg = "creating a new local PostgreSQL in the data directory: none was found there (CAIRN_DATA_DIR is relative to the current folder; set DATABASE_URL to use your own)"
	}
	log.Info(msg, "data_dir", dir)
}

// BaseURL is the http URL a local client reaches a server listening on addr at: a missing or
// unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") is localhost; any other host is kept,
// IPv6 in brackets.
func BaseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
