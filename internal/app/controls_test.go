package app_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/policy"
)

// TestComplianceMap keeps the traceability from clause to control to test
// true (MTL-7.2): every control names a known clause and a test that
// exists, and docs/compliance.md lists every clause and every control.
func TestComplianceMap(t *testing.T) {
	controls := app.Controls()
	if _, err := policy.Coverage(controls); err != nil {
		t.Fatalf("controls: %v", err)
	}
	root := filepath.Join("..", "..")
	tests := map[string]string{} // "pkg: TestName" -> file contents, loaded lazily
	for _, c := range controls {
		if c.Description == "" {
			t.Errorf("control %s (%s) has no description", c.Name, c.Clause)
		}
		pkg, name, ok := strings.Cut(c.Test, ": ")
		if !ok || !strings.HasPrefix(name, "Test") {
			t.Errorf("control %s (%s): Test %q is not \"pkg: TestName\"", c.Name, c.Clause, c.Test)
			continue
		}
		src, ok := tests[pkg]
		if !ok {
			files, _ := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
			var b strings.Builder
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				b.Write(data)
			}
			src = b.String()
			tests[pkg] = src
		}
		if !regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(t \*testing\.T\)`).MatchString(src) {
			t.Errorf("control %s (%s): test %s not found in %s", c.Name, c.Clause, name, pkg)
		}
	}

	want := complianceDoc(controls)
	path := filepath.Join(root, "docs", "compliance.md")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("docs/compliance.md: %v (run go test ./internal/app -run TestComplianceMap -update)", err)
	}
	if string(got) != want {
		t.Errorf("docs/compliance.md is out of date with the controls in code: run go test ./internal/app -run TestComplianceMap -update")
	}

	// docs/policies.md: the two policies and their clauses, from the
	// registry, so that a clone describes them without a link outside it.
	wantPolicies := policiesDoc()
	ppath := filepath.Join(root, "docs", "policies.md")
	if *update {
		if err := os.WriteFile(ppath, []byte(wantPolicies), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(ppath); err != nil || string(got) != wantPolicies {
		t.Errorf("docs/policies.md is out of date with the clause registry (%v): run go test ./internal/app -run TestComplianceMap -update", err)
	}

	// The README and the docs link nothing outside the repository.
	outside := regexp.MustCompile(`\]\(\.\./\.\./|\]\(\.\./shared|\]\((\.\./)+shared`)
	mds, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, f := range append(mds, filepath.Join(root, "README.md")) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := outside.Find(data); m != nil || strings.Contains(string(data), "../shared/") {
			t.Errorf("%s points outside the repository (%q): a clone must be complete", filepath.Base(f), m)
		}
	}

	// The README and the docs claim no more than the map shows: while any
	// clause is partial or has no control, none of them may say that
	// every clause is enforced.
	if enforced, all := countEnforced(controls); enforced < all {
		claim := regexp.MustCompile(`(?is)\b(every|all|each)\s+(clause|clauses)\b[^.]{0,120}?\b(is|are)\s+enforced`)
		docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
		for _, f := range append(docs, filepath.Join(root, "README.md")) {
			if filepath.Base(f) == "compliance.md" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if m := claim.Find(data); m != nil {
				t.Errorf("%s claims %q, but only %d of %d clauses are enforced", filepath.Base(f), m, enforced, all)
			}
		}
	}
}

// countEnforced counts the clauses the map marks enforced, of all.
func countEnforced(controls []policy.Control) (enforced, all int) {
	cov, _ := policy.Coverage(controls)
	for _, c := range cov {
		all++
		if len(c.Controls) > 0 && compliance.CoverageStatus(c.Clause.ID, len(c.Controls)) == compliance.Enforced {
			enforced++
		}
	}
	return enforced, all
}

var update = flag.Bool("update", false, "rewrite golden files (docs/compliance.md)")

// complianceDoc renders docs/compliance.md from the clause registry and
// the controls: one row per clause, in document order.
func complianceDoc(controls []policy.Control) string {
	cov, _ := policy.Coverage(controls)
	checks := compliance.Checks(compliance.Sources{})
	var b strings.Builder
	b.WriteString(`# Compliance map

Every clause of the two policies ([policies.md](policies.md)), the controls in Portico that
enforce it, and the test that proves each control. This file is generated from the code
(` + "`Controls()`" + ` in each domain package, collected by ` + "`internal/app/controls.go`" + `) and kept true by
` + "`TestComplianceMap`" + `, which also checks that every named test exists. Regenerate it with:

    go test ./internal/app -run TestComplianceMap -update

A clause marked **not yet** has no control so far; the open issues say which capability brings it.
A clause with controls may still be partial: the status column says "partial" until every part of
"What Portico must do" has a control, and says what is missing. This is the status from the code
alone. The live compliance report (` + "`/admin/compliance`, `portico compliance report`" + `; see
[compliance-report.md](compliance-report.md)) computes each clause's status from the same data plus
its evidence: a clause is enforced there only when it is enforced here **and** every evidence check
listed here passes on the running system. A clause the running system cannot give evidence of says
why, in the evidence column; those reasons are reviewed in compliance-report.md.

`)
	enforced, all := countEnforced(controls)
	partial := 0
	for _, c := range cov {
		if len(c.Controls) > 0 && compliance.CoverageStatus(c.Clause.ID, len(c.Controls)) != compliance.Enforced {
			partial++
		}
	}
	fmt.Fprintf(&b, "Today: **%d of %d clauses enforced**, %d partial, %d with no control yet.\n\n", enforced, all, partial, all-enforced-partial)
	policyName := ""
	for _, c := range cov {
		if c.Clause.Policy != policyName {
			if policyName != "" {
				b.WriteString("\n")
			}
			policyName = c.Clause.Policy
			b.WriteString("## " + policyName + "\n\n| ID | Clause | Controls | Tests | Evidence | Status |\n|---|---|---|---|---|---|\n")
		}
		var ctl, tst []string
		for _, x := range c.Controls {
			ctl = append(ctl, "`"+x.Name+"`: "+x.Description)
			tst = append(tst, "`"+x.Test+"`")
		}
		status := "**not yet**"
		if len(ctl) > 0 {
			status = string(compliance.CoverageStatus(c.Clause.ID, len(c.Controls)))
			if gap := compliance.Gap(c.Clause.ID); gap != "" {
				status += ": " + gap
			}
		}
		var ev []string
		for _, x := range checks {
			if slices.Contains(x.Clauses, c.Clause.ID) {
				ev = append(ev, "`"+x.Name+"`: "+x.Description)
			}
		}
		if r := compliance.NoLiveEvidence(c.Clause.ID); r != "" {
			ev = append(ev, "no live evidence: "+r)
		}
		row := []string{c.Clause.ID, c.Clause.Title, strings.Join(ctl, "<br>"), strings.Join(tst, "<br>"), strings.Join(ev, "<br>"), status}
		for i := range row {
			row[i] = strings.ReplaceAll(row[i], "|", "\\|")
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

// policiesDoc renders docs/policies.md from the clause registry.
func policiesDoc() string {
	var b strings.Builder
	b.WriteString(`# The two security policies

Portico enforces two security policies. Their clauses, with the stable IDs that code, tests and
docs use (` + "`// Enforces CP-4.1: ...`" + `), are in Portico's clause registry
(` + "`internal/policy/clauses.go`" + `), from which this page is generated; the
[compliance map](compliance.md) shows which controls enforce each clause and how far.

- **Customer Portal Policy** (IDs ` + "`CP-…`" + `): the security measures, roles and responsibilities for
  a customer portal: access control with MFA and roles, password rules, encryption and retention,
  monitoring and logging, secure coding against CSRF and XSS, zero trust, incident response with
  customer and regulator deadlines, breach notices, third parties, data-subject rights, policy
  reviews, training, and restricted access for non-compliance.
- **1642MTL webpage security policy** (IDs ` + "`MTL-…`" + `): confidentiality, integrity and
  availability of user data for a website and everyone who works on it: personal data, strong
  passwords and two-factor authentication, least privilege for supporters, secure development
  and vulnerability management, encryption in transit, incident response, third-party vendors,
  audits and training.

Regenerate with ` + "`go test ./internal/app -run TestComplianceMap -update`" + `.
`)
	name := ""
	for _, c := range policy.Clauses() {
		if c.Policy != name {
			name = c.Policy
			b.WriteString("\n## " + name + "\n\n| ID | Clause | What Portico must do |\n|---|---|---|\n")
		}
		row := []string{c.ID, c.Title, c.Requirement}
		for i := range row {
			row[i] = strings.ReplaceAll(row[i], "|", "\\|")
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

// TestEveryClauseAccounted (MTL-7.2): every clause of the two policies has
// at least one live evidence check or a reviewed reason why the running
// system cannot give one (never both), and every partial clause says what
// its controls do not cover yet. The reasons are in docs/compliance.md
// (generated) and reviewed in docs/compliance-report.md.
func TestEveryClauseAccounted(t *testing.T) {
	if err := compliance.Accounted(app.Controls(), compliance.Checks(compliance.Sources{})); err != nil {
		t.Fatal(err)
	}
}
