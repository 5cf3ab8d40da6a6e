package vulncheck

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// latestOf is what the test proxy knows, by module path as written; it
// answers only at the escaped path, as a real proxy does.
var latestOf = map[string]string{
	"example.com/patch":          "v1.2.5",
	"example.com/minor":          "v1.4.0",
	"example.com/major":          "v1.0.0",
	"example.com/current":        "v1.0.0",
	"example.com/stable":         "v1.1.0-rc.1",
	"example.com/beta":           "v1.1.0-rc.1",
	"example.com/pseudo":         "v0.0.0-20250101000000-abcdefabcdef",
	"github.com/BurntSushi/toml": "v1.6.0",
	"example.com/new":            "v1.0.0",
}

// testInventory is a binary with a module of each kind.
func testInventory(goVersion string) Modules {
	dir := mod("example.com/local", "v1.0.0")
	dir.Replace = &Module{Path: "../local"}
	old := mod("example.com/old", "v0.1.0")
	old.Replace = &Module{Path: "example.com/new", Version: "v1.0.0"}
	return mods(goVersion,
		mod("example.com/patch", "v1.2.3"),
		mod("example.com/minor", "v1.2.3"),
		mod("example.com/major", "v0.9.0"),
		mod("example.com/current", "v1.0.0"),
		mod("example.com/stable", "v1.0.0"),
		mod("example.com/beta", "v1.1.0-beta.1"),
		mod("example.com/pseudo", "v0.0.0-20240101000000-abcdefabcdef"),
		mod("github.com/BurntSushi/toml", "v1.5.0"),
		mod("example.com/private", "v1.0.0"),
		mod("example.com/retracted", "v0.9.0"),
		old, dir)
}

// wantModules is the comparison of testInventory, whatever the source.
var wantModules = []ModuleCurrency{
	{Path: "example.com/beta", Version: "v1.1.0-beta.1", Latest: "v1.1.0-rc.1", Behind: BehindPrerelease},
	{Path: "example.com/current", Version: "v1.0.0", Latest: "v1.0.0"},
	{Path: "example.com/major", Version: "v0.9.0", Latest: "v1.0.0", Behind: BehindMajor},
	{Path: "example.com/minor", Version: "v1.2.3", Latest: "v1.4.0", Behind: BehindMinor},
	{Path: "example.com/new", Version: "v1.0.0", Latest: "v1.0.0"},
	{Path: "example.com/patch", Version: "v1.2.3", Latest: "v1.2.5", Behind: BehindPatch},
	{Path: "example.com/private", Version: "v1.0.0", Note: "not known to the source"},
	{Path: "example.com/pseudo", Version: "v0.0.0-20240101000000-abcdefabcdef", Latest: "v0.0.0-20250101000000-abcdefabcdef", Behind: BehindPrerelease},
	{Path: "example.com/retracted", Version: "v0.9.0", Latest: "v1.0.0", Behind: BehindMajor},
	{Path: "example.com/stable", Version: "v1.0.0", Latest: "v1.0.0"},
	{Path: "github.com/BurntSushi/toml", Version: "v1.5.0", Latest: "v1.6.0", Behind: BehindMinor},
}

// listOf is the @v/list of the test proxy's modules that have one (the
// others answer 404 there, and @latest); an empty list is a module with
// no tagged version.
var listOf = map[string]string{
	"example.com/minor":          "v1.2.3\nv1.4.0\nv1.3.9\n",
	"example.com/stable":         "v1.0.0\nv1.1.0-rc.1\n",
	"example.com/beta":           "v1.0.0\nv1.1.0-beta.1\nv1.1.0-rc.1\n",
	"example.com/pseudo":         "",
	"example.com/retracted":      "v0.9.0\nv1.0.0\nv1.1.0\nv1.1.5\nv1.2.0\n",
	"github.com/BurntSushi/toml": "v1.4.1-0.20240526193622-a339e1f7089c\nv1.5.0\nv1.6.0\n",
	"golang.org/toolchain": "v0.0.1-go1.27rc2.linux-amd64\nv0.0.1-go1.26.8.linux-amd64\nv0.0.1-go1.26.8.windows-arm64\n" +
		"v0.0.1-go1.26.7.linux-amd64\nv0.0.1-go1.25.12.darwin-arm64\nv0.0.1-go1.24.13.linux-386\n",
}

// testProxy serves /{escaped module}/@v/list from listOf and /@latest
// from latestOf, and the Go release list of testdata at /dl, and fails
// the test on a request carrying credentials.
func testProxy(t *testing.T) *httptest.Server {
	t.Helper()
	escape := func(p string) string {
		var b strings.Builder
		for _, r := range p {
			if r >= 'A' && r <= 'Z' {
				b.WriteString("!" + string(r+'a'-'A'))
				continue
			}
			b.WriteRune(r)
		}
		return "/" + b.String()
	}
	escaped, lists := map[string]string{}, map[string]string{}
	for p, v := range latestOf {
		escaped[escape(p)+"/@latest"] = v
	}
	for p, l := range listOf {
		lists[escape(p)+"/@v/list"] = l
	}
	releases, err := os.ReadFile(filepath.Join("testdata", "currency", "go-releases.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			t.Errorf("credentials sent to %s", r.URL)
		}
		if r.URL.Path == "/dl/" {
			w.Write(releases)
			return
		}
		if r.URL.Path == "/example.com/retracted/@v/v1.2.0.mod" {
			w.Write([]byte("module example.com/retracted\n\nretract v1.2.0 // published by mistake\n\nretract [v1.1.0, v1.1.9]\n"))
			return
		}
		if l, ok := lists[r.URL.Path]; ok {
			w.Write([]byte(l))
			return
		}
		v, ok := escaped[r.URL.Path]
		if !ok {
			http.Error(w, "not found: "+r.URL.Path, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"Version": v, "Time": "2026-10-01T00:00:00Z"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func onlineSource(t *testing.T, srv *httptest.Server) *Online {
	t.Helper()
	o, err := NewOnline(srv.URL+"/", srv.URL+"/dl/?mode=json")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCurrency (MTL-4.1.2): the Go version and every module of the
// binary (as replaced) are compared with the latest stable releases,
// from a module proxy (paths escaped) and the Go release list, or from
// `go list -m -u -json all` and a saved release list, with the same
// result: behind by a major, minor or patch version or a pre-release; a
// pre-release is never the latest of a stable module; a module the
// source does not know is unknown, not current; a retracted version is
// never the latest; Go is current only at
// the latest patch of one of the two newest release lines.
func TestCurrency(t *testing.T) {
	ctx := context.Background()
	srv := testProxy(t)
	off, err := ReadOffline(filepath.Join("testdata", "currency", "golist.json"), filepath.Join("testdata", "currency", "go-releases.json"))
	if err != nil {
		t.Fatal(err)
	}
	toolchain, err := NewOnline(srv.URL, GoReleasesToolchain)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]Source{"online": onlineSource(t, srv), "online, Go from golang.org/toolchain": toolchain, "offline": off} {
		t.Run(name, func(t *testing.T) {
			c, err := CheckCurrency(ctx, testInventory("go1.26.8"), src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Modules, wantModules) {
				t.Errorf("modules:\n got %+v\nwant %+v", c.Modules, wantModules)
			}
			if len(c.Behind()) != 7 || c.Unknown() != 1 || c.UpToDate() {
				t.Errorf("behind %d, unknown %d, up to date %v", len(c.Behind()), c.Unknown(), c.UpToDate())
			}
			want := GoCurrency{Version: "go1.26.8", Line: "go1.26", Latest: "go1.26.8", Newest: "go1.26.8", Supported: true, Current: true, Lines: []string{"go1.26", "go1.25"}}
			if !reflect.DeepEqual(c.Go, want) {
				t.Errorf("go: %+v", c.Go)
			}
			current, err := CheckCurrency(ctx, mods("go1.25.12", mod("example.com/current", "v1.0.0"), mod("example.com/stable", "v1.0.0")), src)
			if err != nil || !current.UpToDate() {
				t.Errorf("an up-to-date binary: %+v, %v", current, err)
			}
			for _, v := range []string{"go1.26.7", "go1.24.13"} {
				old, err := CheckCurrency(ctx, mods(v, mod("example.com/current", "v1.0.0")), src)
				if err != nil || old.Go.Current || old.UpToDate() || old.Go.Supported != (v == "go1.26.7") {
					t.Errorf("%s: %+v, %v", v, old.Go, err)
				}
			}
		})
	}
}

// TestGoCurrency (MTL-4.1.2): Go is current at the latest patch of a
// supported line, behind at an older patch, unsupported on an older
// line, never current as a pre-release or a development build.
func TestGoCurrency(t *testing.T) {
	var rels []GoRelease
	b, err := os.ReadFile(filepath.Join("testdata", "currency", "go-releases.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rels); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		running              string
		latest               string
		supported, isCurrent bool
	}{
		{"go1.26.8", "go1.26.8", true, true},
		{"go1.26.8 X:nocoverageredesign", "go1.26.8", true, true},
		{"go1.26.7", "go1.26.8", true, false},
		{"go1.26.0", "go1.26.8", true, false},
		{"go1.25.12", "go1.25.12", true, true},
		{"go1.25.3", "go1.25.12", true, false},
		{"go1.24.13", "go1.24.13", false, false}, // the latest of a line no longer supported
		{"go1.23.1", "", false, false},
		{"go1.27rc2", "", false, false},
		{"go1.27.0", "go1.27.0", true, true}, // newer than the saved list
		{"devel go1.27-abcdef", "", false, false},
	} {
		g := goCurrency(c.running, rels)
		if g.Latest != c.latest || g.Supported != c.supported || g.Current != c.isCurrent || g.Newest != "go1.26.8" {
			t.Errorf("%s: %+v", c.running, g)
		}
	}
	if g := goCurrency("go1.26.8", nil); g.Current || g.Supported {
		t.Errorf("an empty release list: %+v", g)
	}
}

// TestCurrencySourceErrors (MTL-4.1.2): a proxy that cannot be reached,
// that fails, or answers too much stops the check with an error naming
// it; an address with credentials is refused.
func TestCurrencySourceErrors(t *testing.T) {
	ctx := context.Background()
	srv := testProxy(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	o, err := NewOnline(gone.URL, srv.URL+"/dl/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckCurrency(ctx, testInventory("go1.26.8"), o); err == nil || !strings.Contains(err.Error(), "cannot reach "+gone.URL) {
		t.Errorf("an unreachable proxy: %v", err)
	}
	if o, _ = NewOnline(srv.URL, gone.URL+"/dl/?mode=json"); o != nil {
		if _, err := CheckCurrency(ctx, testInventory("go1.26.8"), o); err == nil || !strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("an unreachable release list: %v", err)
		}
	}
	var calls atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.Contains(r.URL.Path, "/big/") {
			w.Write([]byte(`{"Version":"v1.0.0","x":"` + strings.Repeat("x", maxLatestBody) + `"}`))
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failing.Close()
	o, _ = NewOnline(failing.URL, srv.URL+"/dl/")
	if _, err := CheckCurrency(ctx, testInventory("go1.26.8"), o); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("a failing proxy: %v", err)
	}
	if _, err := CheckCurrency(ctx, mods("go1.26.8", mod("example.com/big", "v1.0.0")), o); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an oversized answer: %v", err)
	}
	for _, bad := range []string{"https://user:pw@proxy.example", "ftp://proxy.example", "proxy.example"} {
		if _, err := NewOnline(bad, DefaultGoReleases); err == nil || strings.Contains(err.Error(), "pw") {
			t.Errorf("%s accepted, or its password shown: %v", bad, err)
		}
	}
	if _, err := ReadOffline(filepath.Join("testdata", "currency", "go-releases.json"), filepath.Join("testdata", "currency", "go-releases.json")); err == nil {
		t.Error("a release list read as go list output")
	}
	if _, err := NewOnline(srv.URL, GoReleasesToolchain); err != nil {
		t.Errorf("the toolchain list: %v", err)
	}
	if o, _ = NewOnline(failing.URL, GoReleasesToolchain); o != nil {
		if _, err := o.GoReleases(ctx); err == nil {
			t.Error("a failing toolchain list")
		}
	}
}
