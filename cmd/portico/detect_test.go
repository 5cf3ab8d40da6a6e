package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDetectReplay (CP-8.2): `portico detect replay` runs the profile's
// rules over a log of sign-in attempts and writes the alerts; a bad line
// stops it with the line's number and leaves no output file.
func TestDetectReplay(t *testing.T) {
	c := newCLI(t, "")
	in := filepath.Join("..", "..", "internal", "detect", "testdata", "signin", "brute_force.jsonl")
	out := filepath.Join(t.TempDir(), "alerts.jsonl")
	code, _, stderr := c.run("", "detect", "replay", "--input", in, "--output", out)
	if code != 0 {
		t.Fatal(stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], `"rule":"brute_force"`) || !strings.Contains(lines[0], `"emails":["alice@example.com"]`) ||
		!strings.Contains(lines[0], `"ips":["198.51.100.7"]`) {
		t.Fatalf("alerts %q", b)
	}
	if !strings.Contains(stderr, "12 attempts, 1 alerts") {
		t.Errorf("summary %q", stderr)
	}

	// A stricter profile from the same override file a server would use.
	policy := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policy, []byte("[detection.brute_force]\nthreshold = 13\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := c.run("", "detect", "replay", "--input", in, "--policy-file", policy)
	if code != 0 || strings.TrimSpace(stdout) != "" {
		t.Fatalf("above the threshold: exit %d, %q, %q", code, stdout, stderr)
	}

	// A bad line: its number, exit 1, no file.
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"time":"2026-11-02T09:00:00Z","ip":"198.51.100.7","email":"a@example.com","outcome":"success"}`+"\n"+
		`{"time":"2026-11-02T09:00:01Z","ip":"198.51.100.7","email":"a@example.com","outcome":"maybe"}`+"\n"), 0o600)
	out2 := filepath.Join(t.TempDir(), "none.jsonl")
	code, _, stderr = c.run("", "detect", "replay", "--input", bad, "--output", out2)
	if code != 1 || !strings.Contains(stderr, "line 2") || !strings.Contains(stderr, `"maybe"`) {
		t.Fatalf("bad line: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("a failed replay left %s", out2)
	}
	if code, _, stderr := c.run("", "detect", "replay"); code != 2 || !strings.Contains(stderr, "--input is required") {
		t.Errorf("no input: exit %d, %q", code, stderr)
	}
}
