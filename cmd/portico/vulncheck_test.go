package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
