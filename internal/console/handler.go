package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// Console serves the web console and GraphiQL.
type Console struct {
	static, graphiql *bundle
	index            *asset
	csp              string
	playground       *asset
}

const (
	assetsPrefix     = "/assets/"
	playgroundPrefix = "/playground/assets/"
)

// New loads the embedded files.
func New() *Console {
	c := &Console{static: load(staticFS, "static"), graphiql: load(playgroundFS, "playground")}
	c.buildIndex()
	c.buildPlayground()
	return c
}

// Register adds the console's routes to mux: the index at exactly /, its assets, and
// /playground with its assets.
func (c *Console) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", c.serveIndex)
	mux.Handle("GET "+assetsPrefix, c.static.assetHandler(assetsPrefix))
	mux.HandleFunc("GET /playground", c.servePlayground)
	mux.Handle("GET "+playgroundPrefix, c.graphiql.assetHandler(playgroundPrefix))
}

// buildIndex renders index.html with the versioned asset base, the import map and a
// modulepreload link for every module, so the browser fetches them all in parallel instead of
// discovering them import by import.
func (c *Console) buildIndex() {
	base := assetsPrefix + c.static.version + "/"
	imports := map[string]string{
		"preact":       base + "vendor/preact.module.js",
		"preact/hooks": base + "vendor/hooks.module.js",
		"htm":          base + "vendor/htm.module.js",
	}
	importMap, _ := json.Marshal(map[string]any{"imports": imports})
	var preloads strings.Builder
	var modules []string
	for p := range c.static.files {
		if strings.HasSuffix(p, ".js") {
			modules = append(modules, p)
		}
	}
	sort.Strings(modules)
	for _, m := range modules {
		preloads.WriteString(`<link rel="modulepreload" href="` + base + m + `">` + "\n")
	}
	// Plain substitution, not html/template: the values are ours (a hex version, file names,
	// JSON of them), and the import map must be byte for byte what the CSP hash covers.
	page := strings.NewReplacer("{{BASE}}", base, "{{IMPORTMAP}}", string(importMap), "{{PRELOADS}}", preloads.String()).
		Replace(string(c.static.files["index.html"].body))
	var buf bytes.Buffer
	buf.WriteString(page)
	sum := sha256.Sum256(buf.Bytes())
	c.index = &asset{body: buf.Bytes(), gz: gzipped(buf.Bytes()), contentType: "text/html; charset=utf-8",
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:9]) + `"`}
	c.csp = strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' " + cspHash(string(importMap)),
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"connect-src 'self'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

func (c *Console) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", c.csp)
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
	c.index.serve(w, r, "no-cache")
}

// buildPlayground renders GraphiQL's page with the versioned base of its assets.
func (c *Console) buildPlayground() {
	base := playgroundPrefix + c.graphiql.version + "/"
	page := strings.ReplaceAll(string(c.graphiql.files["index.html"].body), "{{BASE}}", base)
	sum := sha256.Sum256([]byte(page))
	c.playground = &asset{body: []byte(page), gz: gzipped([]byte(page)), contentType: "text/html; charset=utf-8",
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:9]) + `"`}
}

func (c *Console) servePlayground(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
	c.playground.serve(w, r, "no-cache")
}
