package policy

import (
	"errors"
	"fmt"
)

// Control is one mechanism of Portico that enforces one clause. Each domain
// package lists its controls in a Controls() []policy.Control function and
// the application collects them; a mechanism that enforces several clauses
// appears once per clause.
type Control struct {
	Clause      string // ID of the clause it enforces, e.g. "CP-4.1"
	Name        string // short, stable name, e.g. "identity.mfa-enforced"
	Description string // how it enforces the clause, for the compliance report
	// Test names the test that proves the control, as "package path:
	// TestName" relative to the module (e.g. "internal/web:
	// TestSecurityHeaders"). A test in internal/app checks that it exists.
	Test string
}

// ClauseCoverage is one clause with the controls that enforce it; Controls
// is empty for a clause that no control enforces yet.
type ClauseCoverage struct {
	Clause   Clause
	Controls []Control
}

// Coverage returns every clause in document order with the given controls
// that enforce it, in their given order. Controls that name an unknown clause
// or have no name are left out and reported in the error, together with
// controls listed twice for the same clause; the coverage is still returned
// so that a report can show the rest.
func Coverage(controls []Control) ([]ClauseCoverage, error) {
	cov := make([]ClauseCoverage, len(clauses))
	for i, c := range clauses {
		cov[i].Clause = c
	}
	var errs []error
	seen := make(map[Control]bool)
	for _, ctl := range controls {
		i, ok := clauseIndex[ctl.Clause]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("control %q: unknown clause %q", ctl.Name, ctl.Clause))
		case ctl.Name == "":
			errs = append(errs, fmt.Errorf("control for clause %s: no name", ctl.Clause))
		case seen[Control{Clause: ctl.Clause, Name: ctl.Name}]:
			errs = append(errs, fmt.Errorf("control %q: listed twice for clause %s", ctl.Name, ctl.Clause))
		default:
			seen[Control{Clause: ctl.Clause, Name: ctl.Name}] = true
			cov[i].Controls = append(cov[i].Controls, ctl)
		}
	}
	return cov, errors.Join(errs...)
}

// Uncovered returns the clauses of cov that no control enforces yet.
func Uncovered(cov []ClauseCoverage) []Clause {
	var out []Clause
	for _, c := range cov {
		if len(c.Controls) == 0 {
			out = append(out, c.Clause)
		}
	}
	return out
}

// Controls lists the policy profile's own controls, for the compliance map.
func Controls() []Control {
	return []Control{
		{Clause: "CP-5.2", Name: "policy.evidence-floors",
			Description: "The evidence categories keep a floor that no override file can go below: the audit trail, security reports and notices one year, sign-in history 180 days; `portico policy show` states each floor next to its value.",
			Test:        "internal/policy: TestValidateRejects"},
		{Clause: "MTL-7.2", Name: "policy.evidence-floors",
			Description: "The audit trail that audits and reviews read is kept at least a year, whatever one administrator sets.",
			Test:        "internal/policy: TestValidateRejects"},
		{Clause: "CP-5.2", Name: "policy.weakening-needs-approval",
			Description: "A policy edit that shortens a retention or weakens MFA, lockout, password, session, rate-limit or access rules (each setting declares which way weakens it) is not written: it waits for a second administrator's approval.",
			Test:        "internal/web: TestWeakeningPolicyEditNeedsASecondAdmin"},
	}
}
