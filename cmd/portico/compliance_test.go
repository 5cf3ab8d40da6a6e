package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
)

// TestComplianceReport (MTL-7.2): `portico compliance report` writes the
// report offline: JSON with every clause and, with --take-evidence, the
// run it just took from the command line; HTML on standard output; PDF to
// a file (0600, never overwritten), whose text holds the clauses. A bad
// --format is a usage error.
func TestComplianceReport(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *cli) {
		if code, _, stderr := c.run("", "migrate"); code != 0 {
			t.Fatal(stderr)
		}
		code, stdout, stderr := c.run("", "compliance", "report", "--format", "json", "--take-evidence")
		if code != 0 || !strings.Contains(stderr, "evidence taken (run ") {
			t.Fatalf("json: exit %d, stderr %q", code, stderr)
		}
		var rep struct {
			Run *struct {
				Trigger string `json:"trigger"`
				Actor   string `json:"actor"`
			} `json:"run"`
			Counts struct {
				All int `json:"all"`
			} `json:"counts"`
			Policies []struct {
				Clauses []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"clauses"`
			} `json:"policies"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("the JSON report does not parse: %v", err)
		}
		n := 0
		for _, p := range rep.Policies {
			n += len(p.Clauses)
		}
		if n != 48 || rep.Counts.All != 48 {
			t.Errorf("%d clauses (counts %d), want 48", n, rep.Counts.All)
		}
		if rep.Run == nil || rep.Run.Trigger != "cli" || rep.Run.Actor != "cli" {
			t.Errorf("the run taken from the command line: %+v", rep.Run)
		}

		code, stdout, stderr = c.run("", "compliance", "report", "--format", "html")
		if code != 0 || !strings.HasPrefix(stdout, "<!doctype html>") || !strings.Contains(stdout, `id="clause-CP-4.1"`) ||
			strings.Contains(stdout, "<script") {
			t.Errorf("html: exit %d, stderr %q", code, stderr)
		}

		out := filepath.Join(t.TempDir(), "report.pdf")
		if code, _, stderr := c.run("", "compliance", "report", "--format", "pdf", "--output", out); code != 0 {
			t.Fatalf("pdf: exit %d, %q", code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
			t.Errorf("the PDF's mode is %v", fi.Mode().Perm())
		}
		text := pdfText(t, b)
		for _, want := range []string{"Compliance report", "CP-4.1", "MTL-8.2", "audit.chain-verified", "the audit chain verifies"} {
			if !strings.Contains(text, want) {
				t.Errorf("the PDF lacks %q", want)
			}
		}
		if code, _, stderr := c.run("", "compliance", "report", "--format", "pdf", "--output", out); code != 1 || !strings.Contains(stderr, "exists") {
			t.Errorf("a second report to the same file: exit %d, %q", code, stderr)
		}
		if code, _, stderr := c.run("", "compliance", "report", "--format", "xml"); code != 2 || !strings.Contains(stderr, `--format "xml": want html, json or pdf`) {
			t.Errorf("bad --format: exit %d, %q", code, stderr)
		}
	})
}

// pdfText returns the text of a PDF, its words joined by single spaces.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the PDF does not read: %v", err)
	}
	text, err := r.GetPlainText()
	if err != nil {
		t.Fatalf("the PDF's text does not read: %v", err)
	}
	var out strings.Builder
	if _, err := io.Copy(&out, text); err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(out.String()), " ")
}
