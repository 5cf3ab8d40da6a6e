package vulncheck

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

// The currency check answers "are we current?": for each module of the
// binary, the latest stable version and how far behind the binary is;
// for Go, whether the running version is the latest patch release of a
// release line the Go team still supports (the two newest). Where the
// latest versions come from is a Source: a Go module proxy and the Go
// release list over HTTP (see Online), or files saved beforehand (see
// Offline), so the check runs without a network too.

// Behind kinds: how far a version is behind the latest.
const (
	BehindNone       = ""
	BehindMajor      = "major"
	BehindMinor      = "minor"
	BehindPatch      = "patch"
	BehindPrerelease = "prerelease" // same major.minor.patch, a newer pre-release or pseudo-version
)

// GoRelease is one entry of the Go release list
// (https://go.dev/dl/?mode=json): {"version":"go1.26.8","stable":true}.
type GoRelease struct {
	Version string `json:"version"`
	Stable  bool   `json:"stable"`
}

// Source tells the latest versions.
type Source interface {
	// Latest returns the latest version of the module at path that the
	// source knows, "" when it does not know the module. current is the
	// version in the binary: a source that lists versions offers a
	// pre-release only when current is one.
	Latest(ctx context.Context, path, current string) (string, error)
	// GoReleases returns the Go release list.
	GoReleases(ctx context.Context) ([]GoRelease, error)
}

// ModuleCurrency is one module of the binary compared with its latest
// version.
type ModuleCurrency struct {
	Path    string // the module whose code is in the binary (the replacement, if any)
	Version string // the version in the binary
	Latest  string // the latest stable version known, "" when unknown
	Behind  string // BehindMajor, BehindMinor, BehindPatch, BehindPrerelease or BehindNone
	Note    string // why Latest is unknown, e.g. "not known to the source"
}

// GoCurrency is the running Go version compared with the Go releases.
type GoCurrency struct {
	Version   string // as runtime reports it, e.g. "go1.26.7"
	Line      string // its release line, e.g. "go1.26"
	Latest    string // the latest patch release of Line, "" when the list has none
	Newest    string // the newest stable Go release
	Supported bool   // Line is one of the two newest release lines
	Current   bool   // Supported and Version is Latest (or newer)
	Lines     []string
}

// Currency is the result of a currency check.
type Currency struct {
	Go      GoCurrency
	Modules []ModuleCurrency // sorted by path
}

// Behind returns the modules that are behind their latest version.
func (c Currency) Behind() []ModuleCurrency {
	var out []ModuleCurrency
	for _, m := range c.Modules {
		if m.Behind != BehindNone {
			out = append(out, m)
		}
	}
	return out
}

// Unknown returns how many modules could not be compared.
func (c Currency) Unknown() int {
	n := 0
	for _, m := range c.Modules {
		if m.Latest == "" {
			n++
		}
	}
	return n
}

// UpToDate reports whether Go is current and no module is behind.
func (c Currency) UpToDate() bool { return c.Go.Current && len(c.Behind()) == 0 }

// CheckCurrency compares the Go version and every module of m (as
// replaced; modules without a version, such as a replacement by a
// directory, are skipped) with the latest releases src knows. An error
// of src (an unreachable proxy, a release list that does not parse)
// stops the check: a check that could not ask is not a check that found
// everything current.
//
// Enforces MTL-4.1.2: the Go version and every module are compared with
// the latest stable releases.
func CheckCurrency(ctx context.Context, m Modules, src Source) (Currency, error) {
	rels, err := src.GoReleases(ctx)
	if err != nil {
		return Currency{}, err
	}
	out := Currency{Go: goCurrency(m.GoVersion, rels)}
	var mods []Module
	for _, d := range m.Deps {
		if e := d.Effective(); e.Path != "" && canonical(e.Version) != "" {
			mods = append(mods, e)
		}
	}
	latest, err := latestAll(ctx, src, mods)
	if err != nil {
		return Currency{}, err
	}
	for i, d := range mods {
		out.Modules = append(out.Modules, compareModule(d.Path, d.Version, latest[i]))
	}
	sort.Slice(out.Modules, func(i, j int) bool { return out.Modules[i].Path < out.Modules[j].Path })
	return out, nil
}

// compareModule compares a module's version with the latest version a
// source reported. A pre-release as latest counts only when the version
// in the binary is itself a pre-release (or a pseudo-version): a stable
// module is never told to move to a beta.
func compareModule(path, version, latest string) ModuleCurrency {
	mc := ModuleCurrency{Path: path, Version: version}
	cur, lat := canonical(version), canonical(latest)
	switch {
	case latest == "":
		mc.Note = "not known to the source"
		return mc
	case lat == "":
		mc.Note = fmt.Sprintf("the source's latest version %q is not a semantic version", latest)
		return mc
	case semver.Prerelease(lat) != "" && semver.Prerelease(cur) == "":
		// The source has nothing stable newer to offer: the binary's
		// stable version is the latest stable one it knows.
		mc.Latest = version
		return mc
	}
	if semver.Compare(lat, cur) <= 0 {
		mc.Latest = version
		return mc
	}
	mc.Latest = latest
	mc.Behind = behindBy(cur, lat)
	return mc
}

// behindBy says which part of cur is older than lat (lat > cur).
func behindBy(cur, lat string) string {
	switch {
	case semver.Major(cur) != semver.Major(lat):
		return BehindMajor
	case semver.MajorMinor(cur) != semver.MajorMinor(lat):
		return BehindMinor
	case release(cur) != release(lat):
		return BehindPatch
	}
	return BehindPrerelease
}

// release is v without its pre-release and build parts: "v1.2.3".
func release(v string) string {
	v = strings.TrimSuffix(v, semver.Build(v))
	return strings.TrimSuffix(v, semver.Prerelease(v))
}

// supportedLines is how many Go release lines the Go team supports: the
// two newest major releases (https://go.dev/doc/devel/release#policy).
const supportedLines = 2

// goCurrency compares the running Go version with the stable releases
// of the list.
func goCurrency(running string, rels []GoRelease) GoCurrency {
	g := GoCurrency{Version: strings.TrimSpace(running)}
	if i := strings.IndexByte(g.Version, ' '); i > 0 {
		g.Version = g.Version[:i]
	}
	latest := map[string]string{} // line ("v1.26") → latest semver of it
	display := map[string]string{}
	for _, r := range rels {
		v := goSemver(r.Version)
		if !r.Stable || v == "" || semver.Prerelease(v) != "" {
			continue
		}
		line := semver.MajorMinor(v)
		if cur, ok := latest[line]; !ok || semver.Compare(v, cur) > 0 {
			latest[line], display[line] = v, r.Version
		}
	}
	lines := make([]string, 0, len(latest))
	for l := range latest {
		lines = append(lines, l)
	}
	sort.Slice(lines, func(i, j int) bool { return semver.Compare(lines[i], lines[j]) > 0 })
	if len(lines) > 0 {
		g.Newest = display[lines[0]]
	}
	supported := lines[:min(len(lines), supportedLines)]
	for _, l := range supported {
		g.Lines = append(g.Lines, "go"+strings.TrimPrefix(l, "v"))
	}
	v := goSemver(g.Version)
	if v == "" {
		return g // a development build: neither supported nor current
	}
	line := semver.MajorMinor(v)
	g.Line = "go" + strings.TrimPrefix(line, "v")
	g.Latest = display[line]
	for _, l := range supported {
		if l == line {
			g.Supported = true
		}
	}
	if len(lines) > 0 && semver.Compare(line, lines[0]) > 0 && semver.Prerelease(v) == "" {
		// A line newer than the list knows (the list was saved before
		// its release): it is the newest there is.
		g.Supported, g.Latest = true, g.Version
	}
	g.Current = g.Supported && semver.Prerelease(v) == "" && g.Latest != "" && semver.Compare(v, goSemver(g.Latest)) >= 0
	return g
}
