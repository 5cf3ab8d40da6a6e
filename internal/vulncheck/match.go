package vulncheck

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

// Vuln is a module of the binary that an advisory affects.
type Vuln struct {
	ID        string   // the advisory's ID, e.g. "GO-2024-2687"
	Aliases   []string // e.g. "CVE-2023-45288", "GHSA-..."
	Summary   string
	Module    string   // module path, or "stdlib" / "toolchain" for Go itself
	Installed string   // the version in the binary (the Go version for stdlib and toolchain)
	Fixed     string   // the first fixed version after Installed, "" if none is known
	Packages  []string // the affected packages the advisory names (ecosystem_specific.imports), for information
	// Severity is critical, high, medium or low when the advisory grades
	// itself (database_specific.severity, or a CVSS v3 vector), else "".
	Severity string
}

// Result is what a check found, with notes on what it could not read.
type Result struct {
	Vulns []Vuln   // sorted by ID, then module
	Notes []string // e.g. a range of an unknown type that was ignored
}

// Match walks the OSV database in dir and returns the vulnerable
// modules of m, sorted by advisory ID. See Check.
func Match(dir string, m Modules) ([]Vuln, error) {
	r, err := Check(dir, m)
	return r.Vulns, err
}

// Check walks the OSV database in dir (a directory, not a zip archive),
// reading every *.json and *.json.gz file in it and its subdirectories
// except an "index" directory at the top (the Go database's own index,
// which is not made of advisories). It ignores advisories of other
// ecosystems and withdrawn ones, and ranges of types other than SEMVER
// (with a note). A file that is not a valid advisory stops the check
// with an error naming it.
//
// A module replaced by another is matched as the replacement; a module
// with no version (the main module of a development build, a
// replacement by a directory) cannot be matched and is skipped.
func Check(dir string, m Modules) (Result, error) {
	installed := map[string]string{} // module path (or stdlib, toolchain) → canonical version
	orig := map[string]string{}      // the same → the version as the build info has it
	add := func(path, v, display string) {
		if path != "" && v != "" {
			installed[path], orig[path] = v, display
		}
	}
	for _, mod := range append([]Module{m.Main}, m.Deps...) {
		e := mod.Effective()
		add(e.Path, canonical(e.Version), e.Version)
	}
	if gv := goSemver(m.GoVersion); gv != "" {
		add(nameStdlib, gv, m.GoVersion)
		add(nameToolchain, gv, m.GoVersion)
	}

	var res Result
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("vulncheck: %w", err)
		}
		if d.IsDir() {
			if path != dir && d.Name() == "index" && filepath.Dir(path) == filepath.Clean(dir) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".json.gz") {
			return nil
		}
		e, err := readEntry(path)
		if err != nil {
			return err
		}
		vs, notes := matchEntry(e, installed, orig)
		res.Vulns = append(res.Vulns, vs...)
		for _, n := range notes {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %s", path, n))
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	sort.SliceStable(res.Vulns, func(i, j int) bool {
		a, b := res.Vulns[i], res.Vulns[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Module < b.Module
	})
	return res, nil
}

// matchEntry returns the modules the advisory affects, one Vuln per
// module even if several of its affected entries name it.
func matchEntry(e *entry, installed, orig map[string]string) ([]Vuln, []string) {
	if e.Withdrawn != "" {
		return nil, nil
	}
	var (
		out   []Vuln
		notes []string
		seen  = map[string]int{} // module → index in out
	)
	for _, a := range e.Affected {
		if a.Package.Ecosystem != ecosystemGo {
			continue
		}
		v, ok := installed[a.Package.Name]
		if !ok {
			continue
		}
		hit, fixed, n := affects(a, v)
		notes = append(notes, n...)
		if !hit {
			continue
		}
		var pkgs []string
		if a.EcosystemSpecific != nil {
			for _, imp := range a.EcosystemSpecific.Imports {
				pkgs = append(pkgs, imp.Path)
			}
		}
		if i, dup := seen[a.Package.Name]; dup {
			out[i].Packages = append(out[i].Packages, pkgs...)
			if out[i].Fixed == "" || (fixed != "" && semver.Compare(canonical(fixed), canonical(out[i].Fixed)) < 0) {
				out[i].Fixed = fixed
			}
			continue
		}
		seen[a.Package.Name] = len(out)
		out = append(out, Vuln{
			ID: e.ID, Aliases: slices.Clone(e.Aliases), Summary: e.Summary,
			Module: a.Package.Name, Installed: orig[a.Package.Name], Fixed: fixed, Packages: pkgs, Severity: severity(e),
		})
	}
	for i := range out {
		if out[i].Fixed != "" && (out[i].Module == nameStdlib || out[i].Module == nameToolchain) {
			out[i].Fixed = "go" + strings.TrimPrefix(out[i].Fixed, "v") // as Go names its versions
		}
	}
	return out, notes
}

// affects reports whether the canonical version v is in a's versions
// list or in one of its SEMVER ranges, and the fixed version of the
// range it is in ("" if none).
func affects(a affected, v string) (hit bool, fixed string, notes []string) {
	for _, x := range a.Versions {
		if canonical(x) == v {
			hit = true
		}
	}
	for _, r := range a.Ranges {
		if r.Type != rangeSemver {
			notes = append(notes, fmt.Sprintf("%s: range of type %q ignored", a.Package.Name, r.Type))
			continue
		}
		for _, e := range r.Events {
			for _, x := range []string{e.Introduced, e.Fixed, e.LastAffected} {
				if x != "" && x != "0" && canonical(x) == "" {
					notes = append(notes, fmt.Sprintf("%s: version %q is not a semantic version; the range may be misread", a.Package.Name, x))
				}
			}
		}
		if in, f := inRange(r.Events, v); in {
			hit = true
			if fixed == "" || (f != "" && semver.Compare(canonical(f), canonical(fixed)) < 0) {
				fixed = f
			}
		}
	}
	return hit, fixed, notes
}

// inRange reports whether v is in the range the events describe: from
// each introduced version (inclusive) up to the next fixed version
// (exclusive) or last_affected version (inclusive). It returns the
// fixed version that ends v's interval, if any. Versions in OSV have no
// "v" prefix ("1.2.3", "0.0.0-2022..."); "0" for introduced means from
// the beginning.
func inRange(events []event, v string) (bool, string) {
	type point struct {
		kind int // 0 introduced, 1 last_affected, 2 fixed: the order at the same version
		raw  string
		ver  string
	}
	var ps []point
	for _, e := range events {
		switch {
		case e.Introduced != "":
			ver := canonical(e.Introduced)
			if e.Introduced == "0" {
				ver = "v0.0.0-0" // lower than any version
			}
			ps = append(ps, point{0, e.Introduced, ver})
		case e.LastAffected != "":
			ps = append(ps, point{1, e.LastAffected, canonical(e.LastAffected)})
		case e.Fixed != "":
			ps = append(ps, point{2, e.Fixed, canonical(e.Fixed)})
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if c := compare(ps[i].ver, ps[j].ver); c != 0 {
			return c < 0
		}
		return ps[i].kind < ps[j].kind
	})
	in := false
	for _, p := range ps {
		switch p.kind {
		case 0:
			if compare(v, p.ver) >= 0 {
				in = true
			}
		case 1:
			if compare(v, p.ver) > 0 {
				in = false
			}
		case 2:
			if compare(v, p.ver) >= 0 {
				in = false
			}
		}
	}
	if !in {
		return false, ""
	}
	// The event that ends v's interval: a fixed version says where the
	// fix is, a last_affected one says only where it ends.
	for _, p := range ps {
		switch {
		case p.kind == 1 && compare(v, p.ver) <= 0:
			return true, ""
		case p.kind == 2 && compare(v, p.ver) < 0:
			return true, p.raw
		}
	}
	return true, ""
}

// compare orders canonical versions; an unreadable version ("") sorts
// before every valid one, as semver.Compare does.
func compare(a, b string) int { return semver.Compare(a, b) }

// canonical returns v as a canonical semantic version with the "v"
// prefix ("1.2" → "v1.2.0", "v0.0.0-2022..." unchanged), "" if v is not
// one.
func canonical(v string) string {
	if v == "" {
		return ""
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return semver.Canonical(v)
}
