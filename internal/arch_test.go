// Package internal_test checks the direction of Cairn's package dependencies (ARCHITECTURE.md):
//
//	cmd/cairn → internal/server → graph → internal/<domain> → ent
//	cmd/cairn → jobs → internal/<domain>
//
// A domain never reaches up into the layers that call it, and graph talks to background work only
// through the small interfaces it declares, which cmd fills with jobs.
package internal_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/cairn-cdp/cairn"

// pkg is the part of `go list -json` this test reads. Imports are the package's own (non-test)
// imports; Deps is their transitive closure.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// within reports whether path is root or a package under it.
func within(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+"/")
}

func TestDependencyDirection(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)

	for _, rule := range []struct {
		name string
		// applies selects the packages the rule is about.
		applies func(path string) bool
		// transitive checks Deps (everything the package pulls in) instead of Imports.
		transitive bool
		// forbidden reports whether depending on path breaks the rule.
		forbidden func(path string) bool
	}{
		{
			name: "internal packages below the HTTP layer reach none of graph, jobs, internal/server or cmd",
			applies: func(p string) bool {
				return within(p, module+"/internal") && !within(p, module+"/internal/server")
			},
			transitive: true,
			forbidden: func(p string) bool {
				return within(p, module+"/graph") || within(p, module+"/jobs") ||
					within(p, module+"/internal/server") || within(p, module+"/cmd")
			},
		},
		{
			name:    "internal/server imports neither jobs nor cmd: cmd plugs jobs in",
			applies: func(p string) bool { return within(p, module+"/internal/server") },
			forbidden: func(p string) bool {
				return within(p, module+"/jobs") || within(p, module+"/cmd")
			},
		},
		{
			name:       "graph reaches neither jobs, internal/server nor cmd",
			applies:    func(p string) bool { return within(p, module+"/graph") },
			transitive: true,
			forbidden: func(p string) bool {
				return within(p, module+"/jobs") || within(p, module+"/internal/server") || within(p, module+"/cmd")
			},
		},
		{
			name:    "graph does not import River: it takes a job queue interface",
			applies: func(p string) bool { return within(p, module+"/graph") },
			forbidden: func(p string) bool {
				return within(p, "github.com/riverqueue")
			},
		},
		{
			name:       "jobs reaches neither graph, internal/server nor cmd",
			applies:    func(p string) bool { return within(p, module+"/jobs") },
			transitive: true,
			forbidden: func(p string) bool {
				return within(p, module+"/graph") || within(p, module+"/internal/server") || within(p, module+"/cmd")
			},
		},
		{
			name:       "ent (generated) reaches nothing hand-written but its schema",
			applies:    func(p string) bool { return within(p, module+"/ent") },
			transitive: true,
			forbidden: func(p string) bool {
				return within(p, module) && !within(p, module+"/ent")
			},
		},
	} {
		t.Run(rule.name, func(t *testing.T) {
			t.Parallel()
			var broken []string
			checked := 0
			for _, p := range pkgs {
				if !rule.applies(p.ImportPath) {
					continue
				}
				checked++
				deps := p.Imports
				if rule.transitive {
					deps = p.Deps
				}
				for _, d := range deps {
					if rule.forbidden(d) {
						broken = append(broken, p.ImportPath+" → "+d)
					}
				}
			}
			require.Positive(t, checked, "the rule matches no package: its paths are out of date")
			require.Empty(t, broken, "forbidden dependencies")
		})
	}
}

// listPackages runs `go list -json` over the module's packages (tests excluded: a test may
// reach across layers to drive the whole stack).
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-json=ImportPath,Imports,Deps", module+"/...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())

	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkgs = append(pkgs, p)
	}
	require.True(t, slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == module+"/internal/server" }),
		"go list did not list the module's packages")
	return pkgs
}
