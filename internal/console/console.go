// Package console is Cairn's web console: plain ES modules (Preact + htm, vendored, no build
// step) embedded in the binary and served at GET /, talking to the same GraphQL API as any
// client, and GraphiQL's assets for /playground, so neither loads anything from outside the
// server.
//
// Assets are served under /assets/<version>/ where version is a hash of every embedded file:
// their URLs change whenever any of them changes, so they are cached as immutable, while the
// index page (which names the version) is revalidated on every load. Text assets are gzipped
// once at start-up and sent compressed to clients that accept it.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

//go:embed static
var staticFS embed.FS

//go:embed playground
var playgroundFS embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body, gz    []byte
	contentType string
	etag        string
}

// bundle is a tree of embedded files served under one versioned prefix.
type bundle struct {
	version string
	files   map[string]*asset // by path relative to the tree's root
}

func load(fsys fs.FS, root string) *bundle {
	b := &bundle{files: map[string]*asset{}}
	var names []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("console: reading embedded files: %v", err)) // embedded at build time
	}
	sort.Strings(names)
	all := sha256.New()
	for _, p := range names {
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			panic(fmt.Sprintf("console: reading %s: %v", p, err))
		}
		sum := sha256.Sum256(body)
		all.Write([]byte(p))
		all.Write(sum[:])
		a := &asset{body: body, contentType: contentType(p), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if compressible(a.contentType) {
			a.gz = gzipped(body)
		}
		b.files[strings.TrimPrefix(p, root+"/")] = a
	}
	b.version = hex.EncodeToString(all.Sum(nil)[:6])
	return b
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".md", "":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

func gzipped(body []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(body)
	_ = w.Close()
	return buf.Bytes()
}

// serve writes a with the given cache policy, gzipped when the client accepts it.
func (a *asset) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && match == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// immutable is the cache policy of versioned asset URLs.
const immutable = "public, max-age=31536000, immutable"

// assetHandler serves b's files below prefix + version + "/".
func (b *bundle) assetHandler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix+b.version+"/")
		a := b.files[rest]
		if !ok || a == nil {
			http.NotFound(w, r)
			return
		}
		a.serve(w, r, immutable)
	})
}

// cspHash is the CSP source allowing an inline script with exactly this body.
func cspHash(script string) string {
	sum := sha256.Sum256([]byte(script))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
