package vulncheck

import (
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

const osvDir = "testdata/osv"

func mods(goVersion string, deps ...Module) Modules {
	return Modules{GoVersion: goVersion, Main: Module{Path: "github.com/portico/portico"}, Deps: deps}
}

func mod(path, version string) Module { return Module{Path: path, Version: version} }

// TestMatchOSV proves the control vulncheck.osv-offline (MTL-4.1.2):
// the binary's modules are matched against the fixture OSV database.
func TestMatchOSV(t *testing.T) {
	type hit struct{ ID, Module, Installed, Fixed string }
	cases := []struct {
		name string
		m    Modules
		want []hit
	}{
		{"module in range from the beginning is reported with its fixed version",
			mods("", mod("example.com/inrange", "v1.2.0")),
			[]hit{{"GO-TEST-0001", "example.com/inrange", "v1.2.0", "1.3.0"}}},
		{"module at the fixed version is not reported",
			mods("", mod("example.com/atfixed", "v1.3.0")), nil},
		{"module just below the fixed version is reported",
			mods("", mod("example.com/atfixed", "v1.2.99")),
			[]hit{{"GO-TEST-0002", "example.com/atfixed", "v1.2.99", "1.3.0"}}},
		{"advisory introduced after the installed version is not reported",
			mods("", mod("example.com/later", "v1.0.0")), nil},
		{"module at the introduced version is reported",
			mods("", mod("example.com/later", "v1.1.0")),
			[]hit{{"GO-TEST-0003", "example.com/later", "v1.1.0", "1.2.0"}}},
		{"advisories of other ecosystems and withdrawn ones are ignored",
			// PYSEC-TEST-0007 (PyPI) and GO-TEST-0008 (withdrawn) name
			// example.com/inrange with no fix; GO-TEST-0001 is fixed in 1.3.0.
			mods("", mod("example.com/inrange", "v1.5.0")), nil},
		{"last_affected bound is inclusive",
			mods("", mod("example.com/lastaff", "v1.4.0")),
			[]hit{{"GO-TEST-0004", "example.com/lastaff", "v1.4.0", ""}}},
		{"version past last_affected is not reported",
			mods("", mod("example.com/pastlast", "v1.4.1")), nil},
		{"version in the explicit versions list is reported",
			mods("", mod("example.com/listed", "v0.5.0")),
			[]hit{{"GO-TEST-0005", "example.com/listed", "v0.5.0", ""}}},
		{"version outside the explicit versions list is not reported",
			mods("", mod("example.com/listed", "v0.6.0")), nil},
		{"stdlib advisory against the Go version",
			mods("go1.26.8"),
			[]hit{{"GO-TEST-0006", "stdlib", "go1.26.8", "go1.26.9"}}},
		{"stdlib advisory in the older branch",
			mods("go1.25.3 X:nodwarf5"),
			[]hit{{"GO-TEST-0006", "stdlib", "go1.25.3 X:nodwarf5", "go1.25.12"}}},
		{"stdlib at the fixed Go version is not reported",
			mods("go1.26.9"), nil},
		{"a release candidate of the vulnerable line is reported",
			mods("go1.26rc2"),
			[]hit{{"GO-TEST-0006", "stdlib", "go1.26rc2", "go1.26.9"}}},
		{"a development Go build cannot be matched",
			mods("devel go1.27-abcdef"), nil},
		{"pseudo-versions compare by semver",
			mods("", mod("example.com/pseudo", "v0.0.0-20240101000000-abcdefabcdef")),
			[]hit{{"GO-TEST-0009", "example.com/pseudo", "v0.0.0-20240101000000-abcdefabcdef", "0.0.0-20240601000000-123456789abc"}}},
		{"a later pseudo-version is not reported",
			mods("", mod("example.com/pseudo", "v0.0.0-20240701000000-abcdefabcdef")), nil},
		{"a replaced module is matched as its replacement",
			mods("", Module{Path: "example.com/orig", Version: "v1.0.0", Replace: &Module{Path: "example.com/replacement", Version: "v1.5.0"}}),
			[]hit{{"GO-TEST-0010", "example.com/replacement", "v1.5.0", "2.0.0"}}},
		{"the original of a replaced module is not matched",
			mods("", Module{Path: "example.com/replacement", Version: "v1.0.0", Replace: &Module{Path: "example.com/fork", Version: "v1.0.0"}}), nil},
		{"several advisories sorted by ID",
			mods("go1.26.0", mod("example.com/listed", "v0.4.0"), mod("example.com/inrange", "v0.1.0")),
			[]hit{
				{"GO-TEST-0001", "example.com/inrange", "v0.1.0", "1.3.0"},
				{"GO-TEST-0005", "example.com/listed", "v0.4.0", ""},
				{"GO-TEST-0006", "stdlib", "go1.26.0", "go1.26.9"},
			}},
		{"nothing installed that an advisory names",
			mods("", mod("example.com/safe", "v1.0.0")), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs, err := Match(osvDir, c.m)
			if err != nil {
				t.Fatal(err)
			}
			var got []hit
			for _, v := range vs {
				got = append(got, hit{v.ID, v.Module, v.Installed, v.Fixed})
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestMatchDetails(t *testing.T) {
	r, err := Check(osvDir, mods("go1.26.8", mod("example.com/inrange", "v1.0.0")))
	if err != nil {
		t.Fatal(err)
	}
	// GO-TEST-0001 and GO-TEST-0006 only: not the PyPI advisory of the
	// same name (PYSEC-TEST-0007), not the withdrawn GO-TEST-0008, not
	// the GIT range of GO-TEST-0011.
	if len(r.Vulns) != 2 {
		t.Fatalf("got %+v, want GO-TEST-0001 and GO-TEST-0006", r.Vulns)
	}
	v := r.Vulns[0]
	if v.ID != "GO-TEST-0001" || !slices.Equal(v.Aliases, []string{"CVE-2099-0001", "GHSA-test-0001"}) ||
		v.Summary != "In range from the beginning, fixed later" || !slices.Equal(v.Packages, []string{"example.com/inrange/parse"}) {
		t.Errorf("first vuln = %+v", v)
	}
	if s := r.Vulns[1]; s.ID != "GO-TEST-0006" || !slices.Equal(s.Packages, []string{"net/http"}) {
		t.Errorf("second vuln = %+v", s)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "GO-TEST-0011.json") || !strings.Contains(r.Notes[0], `"GIT"`) {
		t.Errorf("notes = %q, want one on the GIT range of GO-TEST-0011", r.Notes)
	}
}

func TestMalformedAdvisoryNamesTheFile(t *testing.T) {
	_, err := Match("testdata/malformed", mods("go1.26.0"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join("testdata", "malformed", "GO-TEST-BAD.json")) {
		t.Fatalf("err = %v, want an error naming GO-TEST-BAD.json", err)
	}
	if _, err := Match("testdata/missing", mods("go1.26.0")); err == nil {
		t.Fatal("a missing directory gave no error")
	}
}

// TestInRange pins the boundaries of a SEMVER range; it fails if a
// comparison is off by one (introduced and last_affected inclusive,
// fixed exclusive).
func TestInRange(t *testing.T) {
	ev := func(kv ...string) []event {
		var out []event
		for i := 0; i < len(kv); i += 2 {
			switch kv[i] {
			case "i":
				out = append(out, event{Introduced: kv[i+1]})
			case "f":
				out = append(out, event{Fixed: kv[i+1]})
			case "l":
				out = append(out, event{LastAffected: kv[i+1]})
			}
		}
		return out
	}
	cases := []struct {
		events []event
		v      string
		in     bool
		fixed  string
	}{
		{ev("i", "1.0.0", "f", "1.2.0"), "v0.9.9", false, ""},
		{ev("i", "1.0.0", "f", "1.2.0"), "v1.0.0", true, "1.2.0"},
		{ev("i", "1.0.0", "f", "1.2.0"), "v1.1.9", true, "1.2.0"},
		{ev("i", "1.0.0", "f", "1.2.0"), "v1.2.0", false, ""},
		{ev("i", "1.0.0", "l", "1.2.0"), "v1.2.0", true, ""},
		{ev("i", "1.0.0", "l", "1.2.0"), "v1.2.1", false, ""},
		{ev("i", "0"), "v0.0.0-20000101000000-000000000000", true, ""},
		// events out of order, two intervals
		{ev("f", "2.1.0", "i", "2.0.0", "f", "1.5.0", "i", "0"), "v1.5.0", false, ""},
		{ev("f", "2.1.0", "i", "2.0.0", "f", "1.5.0", "i", "0"), "v2.0.5", true, "2.1.0"},
		{ev("f", "2.1.0", "i", "2.0.0", "f", "1.5.0", "i", "0"), "v1.4.0", true, "1.5.0"},
		// the interval ending at last_affected has no fixed version
		{ev("i", "0", "l", "1.2.0", "i", "1.5.0", "f", "1.6.0"), "v1.1.0", true, ""},
		{ev("i", "1.0.0", "f", "1.0.0"), "v1.0.0", false, ""},
	}
	for _, c := range cases {
		in, fixed := inRange(c.events, c.v)
		if in != c.in || fixed != c.fixed {
			t.Errorf("inRange(%+v, %s) = %v, %q; want %v, %q", c.events, c.v, in, fixed, c.in, c.fixed)
		}
	}
}

func TestGoSemver(t *testing.T) {
	for in, want := range map[string]string{
		"go1.26.8": "v1.26.8", "go1.21": "v1.21.0", "go1.21rc1": "v1.21.0-rc.1", "go1.9.2rc2": "v1.9.2-rc.2",
		"go1.22beta1": "v1.22.0-beta.1", "go1.26.0 X:nocoverageredesign": "v1.26.0", "devel go1.27-abc": "", "": "",
	} {
		if got := goSemver(in); got != want {
			t.Errorf("goSemver(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInventory(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/portico/portico", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "golang.org/x/mod", Version: "v0.42.0", Sum: "h1:x"},
			{Path: "example.com/a", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1"}},
			nil,
		},
	}
	m := Inventory(bi)
	if m.GoVersion != "go1.26.8" || m.Main.Path != "github.com/portico/portico" || m.Main.Version != "" {
		t.Errorf("inventory = %+v", m)
	}
	if len(m.Deps) != 2 || m.Deps[0].Path != "example.com/a" || m.Deps[0].Replace == nil ||
		m.Deps[0].Effective() != (Module{Path: "example.com/fork", Version: "v1.0.1"}) || m.Deps[1].Effective().Version != "v0.42.0" {
		t.Errorf("deps = %+v", m.Deps)
	}
	if got := Inventory(nil); got.GoVersion != "" || got.Deps != nil {
		t.Errorf("Inventory(nil) = %+v", got)
	}
}

func TestCurrent(t *testing.T) {
	m, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	if m.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", m.GoVersion, runtime.Version())
	}
	if m.Main.Path != "github.com/portico/portico" || m.Main.Version != "" {
		t.Errorf("main module of the test binary = %+v, want the (devel) module with no version", m.Main)
	}
	// A test binary's build info lists no dependencies (golang/go#33976),
	// so only the Go version and the main module can be checked here;
	// TestInventory covers the dependencies.
	// The test binary matched against the fixtures: nothing of it is named.
	vs, err := Match(osvDir, Modules{Main: m.Main, Deps: m.Deps})
	if err != nil || len(vs) != 0 {
		t.Errorf("Match(current) = %+v, %v", vs, err)
	}
}

// TestSeverity (MTL-4.1.2): an advisory is graded from its database's
// severity, else from its CVSS v3 vector, else not at all.
func TestSeverity(t *testing.T) {
	r, err := Check(osvDir, mods("go1.26.8", mod("example.com/atfixed", "v1.0.0"), mod("example.com/later", "v1.1.0")))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range r.Vulns {
		got[v.ID] = v.Severity
	}
	want := map[string]string{"GO-TEST-0002": "critical", "GO-TEST-0003": "medium", "GO-TEST-0006": ""}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: severity %q, want %q (all: %v)", id, got[id], w, got)
		}
	}
	for vector, score := range map[string]float64{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N": 5.3,
		"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H": 9.9,
		"CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N": 1.8,
	} {
		if got, ok := cvss3(vector); !ok || got != score {
			t.Errorf("cvss3(%s) = %v, %v; want %v", vector, got, ok, score)
		}
	}
}
