// Package vulncheck finds the known vulnerabilities of the running
// binary: it reads the Go version and the modules the binary was built
// with from its build information, and matches them against an offline
// OSV database, a directory of the JSON advisories the OSV project
// publishes for the Go ecosystem (one file per advisory). No network
// call is made.
//
// Matching is at module level: an advisory's affected packages
// (ecosystem_specific.imports) are recorded but not used to narrow the
// match, so a module is reported even if the binary does not import the
// vulnerable package. The standard library ("stdlib") and the Go
// toolchain ("toolchain") are matched against the Go version the
// binary was built with.
//
// The command line (`portico vulncheck --osv DIR [--file-findings]`,
// `portico version --modules`) prints the result; with --file-findings
// internal/findings files each hit in the findings register, and the
// administrators' inventory page shows the modules. Zip archives and
// remote databases are not read.
//
// The currency check (CheckCurrency, `portico vulncheck --updates`)
// compares the same inventory with the latest releases; it is the one
// part that may use the network, and only when given an Online source
// (a Go module proxy and the Go release list); Offline reads saved files.
package vulncheck

import (
	"errors"
	"runtime/debug"
	"sort"
	"strings"
)

// Module is one module the binary was built with.
type Module struct {
	Path    string
	Version string  // "" when unknown, e.g. the main module of a test binary ("(devel)")
	Replace *Module // the module that replaced it, if any
}

// Effective returns the module whose code is in the binary: the
// replacement if there is one, else the module itself.
func (m Module) Effective() Module {
	if m.Replace != nil {
		return *m.Replace
	}
	return m
}

// Modules is the running binary's inventory.
type Modules struct {
	GoVersion string // as runtime reports it, e.g. "go1.26.8"
	Main      Module
	Deps      []Module // sorted by path
}

// Inventory returns the Go version and modules recorded in bi. A
// version of "(devel)" (the main module of a test binary or of a build
// from a checkout) is recorded as "".
func Inventory(bi *debug.BuildInfo) Modules {
	if bi == nil {
		return Modules{}
	}
	out := Modules{GoVersion: bi.GoVersion, Main: module(&bi.Main)}
	for _, d := range bi.Deps {
		if d == nil {
			continue
		}
		out.Deps = append(out.Deps, module(d))
	}
	sort.Slice(out.Deps, func(i, j int) bool { return out.Deps[i].Path < out.Deps[j].Path })
	return out
}

// Current returns the inventory of the running binary. In a test
// binary the main module has no version and the Go toolchain records
// no dependencies.
func Current() (Modules, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Modules{}, errors.New("vulncheck: the binary carries no build information (built without module support)")
	}
	return Inventory(bi), nil
}

func module(m *debug.Module) Module {
	out := Module{Path: m.Path, Version: version(m.Version)}
	if m.Replace != nil {
		r := module(m.Replace)
		out.Replace = &r
	}
	return out
}

func version(v string) string {
	if v == "(devel)" {
		return ""
	}
	return v
}

// goSemver turns a Go version ("go1.26.8", "go1.21", "go1.21rc1",
// "go1.26.0 X:nocoverageredesign") into a semantic version ("v1.26.8",
// "v1.21.0", "v1.21.0-rc.1"); "" for a development build or anything it
// cannot read.
func goSemver(v string) string {
	v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
	rest, ok := strings.CutPrefix(v, "go")
	if !ok || rest == "" {
		return ""
	}
	var pre string
	for _, tag := range []string{"rc", "beta"} {
		if i := strings.Index(rest, tag); i > 0 {
			pre = "-" + tag + "." + rest[i+len(tag):]
			rest = rest[:i]
			break
		}
	}
	parts := strings.Split(rest, ".")
	if len(parts) > 3 {
		return ""
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	return canonical("v" + strings.Join(parts, ".") + pre)
}
