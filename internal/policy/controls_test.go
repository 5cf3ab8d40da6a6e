package policy

import (
	"strings"
	"testing"
)

func TestCoverageListsControlsPerClause(t *testing.T) {
	controls := []Control{
		{Clause: "CP-4.1", Name: "identity.mfa-enforced", Description: "sessions without a second factor reach only enrolment"},
		{Clause: "MTL-3.1.2", Name: "identity.mfa-enforced", Description: "TOTP, passkeys and recovery codes"},
		{Clause: "CP-4.1", Name: "session.mfa-check", Description: "the session layer refuses half-authenticated sessions"},
	}
	cov, err := Coverage(controls)
	if err != nil {
		t.Fatal(err)
	}
	if len(cov) != len(Clauses()) {
		t.Fatalf("Coverage has %d clauses, want %d", len(cov), len(Clauses()))
	}
	for i, c := range cov {
		if c.Clause != Clauses()[i] {
			t.Fatalf("Coverage[%d] is %s, want clauses in document order", i, c.Clause.ID)
		}
		var names []string
		for _, ctl := range c.Controls {
			names = append(names, ctl.Name)
		}
		got := strings.Join(names, ",")
		want := map[string]string{
			"CP-4.1":    "identity.mfa-enforced,session.mfa-check",
			"MTL-3.1.2": "identity.mfa-enforced",
		}[c.Clause.ID]
		if got != want {
			t.Errorf("%s: controls %q, want %q", c.Clause.ID, got, want)
		}
	}

	unc := Uncovered(cov)
	if len(unc) != len(Clauses())-2 {
		t.Errorf("Uncovered lists %d clauses, want all but the 2 covered", len(unc))
	}
	for _, c := range unc {
		if c.ID == "CP-4.1" || c.ID == "MTL-3.1.2" {
			t.Errorf("Uncovered lists covered clause %s", c.ID)
		}
	}
}

func TestCoverageWithNoControlsListsEveryClause(t *testing.T) {
	cov, err := Coverage(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(Uncovered(cov)); got != len(Clauses()) {
		t.Errorf("Uncovered = %d clauses, want all %d", got, len(Clauses()))
	}
}

func TestCoverageFlagsBadControls(t *testing.T) {
	cov, err := Coverage([]Control{
		{Clause: "CP-4.9", Name: "identity.typo"},
		{Clause: "CP-4.2", Name: ""},
		{Clause: "CP-4.2", Name: "access.deny-by-default"},
		{Clause: "CP-4.2", Name: "access.deny-by-default"},
	})
	if err == nil {
		t.Fatal("Coverage accepted controls naming an unknown clause")
	}
	for _, want := range []string{
		`control "identity.typo": unknown clause "CP-4.9"`,
		"control for clause CP-4.2: no name",
		`control "access.deny-by-default": listed twice for clause CP-4.2`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	c, _ := ClauseByID("CP-4.2")
	for _, cc := range cov {
		if cc.Clause == c && len(cc.Controls) != 1 {
			t.Errorf("CP-4.2 keeps %d controls, want the one valid control", len(cc.Controls))
		}
	}
}
