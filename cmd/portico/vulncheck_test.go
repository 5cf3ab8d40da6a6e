package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portico/portico/internal/vulncheck"
)

// TestVulncheck (MTL-4.1.2): `portico vulncheck --osv DIR` matches the
// binary's Go version against an offline OSV directory, prints the
// advisory and exits 1; with no matching advisory it exits 0; without
// --osv it is a usage error. `portico version --modules` lists the
// inventory it matches. With --file-findings the hit is filed in the
// installation's findings register once (MTL-4.1.2).
func TestVulncheck(t *testing.T) {
	c := newCLI(t, "")
	if code, stdout, _ := c.run("", "version", "--modules"); code != 0 || !strings.Contains(stdout, "go\tgo1.") {
		t.Fatalf("version --modules: exit %d, %q", code, stdout)
	}
	if code, _, stderr := c.run("", "vulncheck"); code != 2 || !strings.Contains(stderr, "--osv is required") {
		t.Fatalf("vulncheck without --osv: exit %d, %q", code, stderr)
	}
	advisory := func(id, fixed string) string {
		return `{"schema_version":"1.3.1","id":"` + id + `","summary":"net/http: a test advisory","aliases":["CVE-2099-1"],
			"affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]}]}`
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "GO-2099-0001.json"), []byte(advisory("GO-2099-0001", "1.0.0")), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := c.run("", "vulncheck", "--osv", dir); code != 0 || stdout != "" || !strings.Contains(stderr, "no advisory matches") {
		t.Fatalf("a fixed advisory: exit %d, %q, %q", code, stdout, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "GO-2099-0002.json"), []byte(advisory("GO-2099-0002", "99.0.0")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := c.run("", "vulncheck", "--osv", dir)
	if code != 1 || !strings.HasPrefix(stdout, "GO-2099-0002\tstdlib go1.") || !strings.Contains(stdout, "fixed in go99.0.0") || !strings.Contains(stderr, "1 advisory matches") {
		t.Fatalf("a matching advisory: exit %d, %q, %q", code, stdout, stderr)
	}

	// --file-findings files the hit in the installation's register, once.
	if code, _, stderr := c.run("", "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	for i, want := range []string{"findings: 1 filed, 0 already", "findings: 0 filed, 1 already"} {
		if code, _, stderr := c.run("", "vulncheck", "--osv", dir, "--file-findings"); code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("--file-findings, run %d: exit %d, %q", i+1, code, stderr)
		}
	}
}

// TestVulncheckUpdates (MTL-4.1.2): `portico vulncheck --updates` compares
// the binary's modules and Go with a module proxy and the Go release list
// (here a local server) or with saved files, prints the table and the Go
// line, and exits 0 when everything is current, 3 when something is
// behind, 1 when the proxy cannot be reached (never 0 or 3), 1 when an
// advisory also matches; with --file-findings the outdated ones are filed
// once and the run recorded.
func TestVulncheckUpdates(t *testing.T) {
	inventory := func(goVersion string, deps ...vulncheck.Module) {
		old := currentModules
		currentModules = func() (vulncheck.Modules, error) {
			return vulncheck.Modules{GoVersion: goVersion, Main: vulncheck.Module{Path: "github.com/portico/portico"}, Deps: deps}, nil
		}
		t.Cleanup(func() { currentModules = old })
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dl/":
			w.Write([]byte(`[{"version":"go1.27rc1","stable":false},{"version":"go1.26.8","stable":true},{"version":"go1.25.12","stable":true}]`))
		case "/golang.org/toolchain/@v/list":
			w.Write([]byte("v0.0.1-go1.26.8.linux-amd64\nv0.0.1-go1.25.12.linux-amd64\nv0.0.1-go1.27rc1.linux-amd64\n"))
		case "/example.com/current/@latest":
			w.Write([]byte(`{"Version":"v1.0.0"}`))
		case "/example.com/minor/@latest":
			w.Write([]byte(`{"Version":"v1.4.0"}`))
		case "/github.com/!burnt!sushi/toml/@latest":
			w.Write([]byte(`{"Version":"v1.6.0"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	online := []string{"vulncheck", "--updates", "--proxy", srv.URL, "--go-releases", srv.URL + "/dl/?mode=json"}
	c := newCLI(t, "")

	inventory("go1.26.8", vulncheck.Module{Path: "example.com/current", Version: "v1.0.0"}, vulncheck.Module{Path: "github.com/BurntSushi/toml", Version: "v1.6.0"})
	code, stdout, stderr := c.run("", online...)
	if code != 0 || !strings.Contains(stdout, "github.com/BurntSushi/toml") || !regexp.MustCompile(`(?m)^go +go1\.26\.8 +go1\.26\.8 +current`).MatchString(stdout) ||
		!strings.Contains(stderr, "0 of 2 modules behind") {
		t.Fatalf("a current binary: exit %d, %q, %q", code, stdout, stderr)
	}
	if code, stdout, stderr := c.run("", "vulncheck", "--updates", "--proxy", srv.URL, "--go-releases", "toolchain"); code != 0 || !strings.Contains(stdout, "current (supported lines: go1.26, go1.25)") {
		t.Fatalf("Go releases from golang.org/toolchain: exit %d, %q, %q", code, stdout, stderr)
	}

	inventory("go1.26.7", vulncheck.Module{Path: "example.com/current", Version: "v1.0.0"}, vulncheck.Module{Path: "example.com/minor", Version: "v1.2.3"},
		vulncheck.Module{Path: "example.com/private", Version: "v1.0.0"})
	code, stdout, stderr = c.run("", online...)
	if code != 3 || !regexp.MustCompile(`(?m)^example\.com/minor +v1\.2\.3 +v1\.4\.0 +minor$`).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^example\.com/private +v1\.0\.0 +\? +unknown`).MatchString(stdout) ||
		!strings.Contains(stdout, "behind: go1.26.8 is the latest go1.26 release") || !strings.Contains(stderr, "1 of 3 modules behind, 1 unknown") {
		t.Fatalf("a binary behind: exit %d, %q, %q", code, stdout, stderr)
	}

	// Offline, from go list -m -u -json all and a saved release list.
	testdata := filepath.Join("..", "..", "internal", "vulncheck", "testdata", "currency")
	offline := []string{"vulncheck", "--updates-file", filepath.Join(testdata, "golist.json"), "--go-releases-file", filepath.Join(testdata, "go-releases.json")}
	inventory("go1.24.13", vulncheck.Module{Path: "example.com/current", Version: "v1.0.0"})
	if code, stdout, stderr := c.run("", offline...); code != 3 || !strings.Contains(stdout, "unsupported: go1.24") || !strings.Contains(stderr, "0 of 1 modules behind") {
		t.Fatalf("offline, an unsupported Go: exit %d, %q, %q", code, stdout, stderr)
	}
	inventory("go1.26.8", vulncheck.Module{Path: "example.com/current", Version: "v1.0.0"})
	if code, _, stderr := c.run("", offline...); code != 0 {
		t.Fatalf("offline, current: exit %d, %q", code, stderr)
	}

	// An unreachable proxy is a failure, not a verdict.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	if code, stdout, stderr := c.run("", "vulncheck", "--updates", "--proxy", gone.URL, "--go-releases", srv.URL+"/dl/"); code != 1 || stdout != "" || !strings.Contains(stderr, "cannot reach") {
		t.Fatalf("an unreachable proxy: exit %d, %q, %q", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"vulncheck", "--updates-file", filepath.Join(testdata, "golist.json")},
		{"vulncheck", "--updates", "--proxy", "https://user:pw@proxy.example"},
	} {
		if code, _, stderr := c.run("", args...); code != 2 || strings.Contains(stderr, "pw@") {
			t.Fatalf("%v: exit %d, %q", args, code, stderr)
		}
	}

	// --file-findings: the minor module (low) and Go (medium), once.
	inventory("go1.26.7", vulncheck.Module{Path: "example.com/minor", Version: "v1.2.3"})
	if code, _, stderr := c.run("", "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	for i, want := range []string{"findings: 2 filed, 0 already", "findings: 0 filed, 2 already"} {
		if code, _, stderr := c.run("", append(online, "--file-findings")...); code != 3 || !strings.Contains(stderr, want) {
			t.Fatalf("--file-findings, run %d: exit %d, %q", i+1, code, stderr)
		}
	}

	// Vulnerable and behind: vulnerable (1) wins.
	dir := t.TempDir()
	adv := `{"schema_version":"1.3.1","id":"GO-2099-0003","affected":[{"package":{"ecosystem":"Go","name":"example.com/minor"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.0"}]}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "GO-2099-0003.json"), []byte(adv), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := c.run("", append(online, "--osv", dir)...); code != 1 || !strings.Contains(stdout, "GO-2099-0003") || !strings.Contains(stdout, "example.com/minor") || !strings.Contains(stderr, "1 advisory matches") {
		t.Fatalf("vulnerable and behind: exit %d, %q, %q", code, stdout, stderr)
	}
}
