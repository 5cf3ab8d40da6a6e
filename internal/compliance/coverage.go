package compliance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portico/portico/internal/policy"
)

// complete lists the clauses whose whole requirement ("What Portico must
// do" in CLAUSES.md) has controls in place; the others with controls are
// partial, for the reason in gaps. A capability that completes a clause
// adds it here and removes its gap. The live status also needs every
// evidence check of the clause to pass (ClauseStatus).
var complete = map[string]bool{
	"CP-5.3":    true, // tamper-evident trail; each capability audits its own events
	"CP-6.1":    true, // CSRF defence, contextual escaping, strict nonce CSP
	"MTL-4.2.1": true, // TLS only, AEAD suites, HSTS, secure cookies
	"CP-3.1":    true, // guidelines page, "this wasn't me" reports, password policy
	"CP-4.1":    true, // enrolment forced, restricted stages, TOTP, passkeys, recovery codes
	"CP-4.3":    true, // policy engine, expiry with warnings, forced change
	"MTL-3.1.1": true, // strength, common and breached blocklists, history
	"MTL-3.1.2": true, // TOTP, passkeys, recovery codes; required or encouraged
	"MTL-8.2":   true, // security guidelines and notices for customers
	"CP-3.3":    true, // ticket desk; reports filed on a customer's behalf
	"CP-4.2":    true, // role table, deny by default, object checks, separation of duties
	"CP-6.3":    true, // per-request session, context and holder checks; step-up; scoped tokens
	"CP-12":     true, // restricted mode: no second factor, expired or compromised password, overdue training
	"MTL-3.2.1": true, // support sees masked data
	"MTL-3.2.2": true, // reveal with reason, time-bound, audited; configuration and keys admin-only
	"CP-5.1":    true, // TLS only; every personal field encrypted under the subject's key (raw-file test); rotatable keys; encrypted backups
	"CP-11.1":   true, // export, rectification, erasure with grace and shredding, restriction, consents
	"CP-11.2":   true, // versioned policy documents with owner and four-eyes approval, review due dates and records, significant change, overdue alert
	"CP-5.2":    true, // every category purged on schedule (audit trail with anchors), crypto-shredding, erasure ledger for backups
	"MTL-1.1":   true, // encryption, tamper-evident audit, encrypted backups with restore, health checks
	"MTL-2.1.1": true, // record of processing in code, shown to admins, customers and in the export
	"MTL-2.1.2": true, // versioned notice acknowledged, optional purposes by consent, retention per category
	"MTL-2.1.3": true, // as CP-5.1 and CP-4.2
	"MTL-7.1":   true, // as CP-11.1, each request tracked with its legal deadline
	"CP-7.3":    true, // report form; support files on a customer's behalf (CP-3.3); triage queue to an outcome the customer is told
	// Incident response (issue 12).
	"CP-7.1":    true, // clock from detection, countdown, warnings by email, feed and alert, late reason
	"CP-7.2":    true, // phases with the plan's checklists, affected from records, bulk containment, timeline
	"CP-9.1":    true, // notice refused without each Art. 34(2) part; in-portal and email to the affected only; receipts
	"CP-9.2":    true, // follow-ups linked to the notice; steps tracked per customer with reminders
	"MTL-5.1.1": true, // regulator clock from awareness, regimes, Art. 33(3) report with phased submissions, register
	"MTL-5.1.2": true, // as CP-9.1, with the banner until read and the steps as guidance
	"MTL-5.2.1": true, // versioned, approved plan whose checklists drive the phases; review due
	"MTL-5.2.2": true, // exercises and drills with findings tracked, next due and its alert, post-incident review
	// Governance (issue 13).
	"MTL-4.1.1": true, // docs/secure-coding.md, the rules checked on every run, the review checklist in the PR template
	"CP-6.2":    true, // assessments with findings, next due and its alert; public disclosure intake (security.txt, throttled form); security tests and codecheck in CI
	"MTL-4.3.1": true, // assessment records (pen test, scan, code review, audit) with findings and remediation due dates; overdue assessment alert
	"MTL-4.3.2": true, // findings tracked to closure with evidence, deadlines by severity, overdue alert, accepted risk with expiry
	"MTL-8.1":   true, // modules with quizzes assigned by role (contractors included), passing records the training the gate checks, reminders, overdue alert
	"MTL-1.2":   true, // contractors are staff accounts under the same controls (roles, second factor, training) with an end date; vendors' people linked in the register
	"MTL-4.1.2": true, // inventory at /admin/inventory, offline OSV check, currency of Go and modules against the latest stable releases, findings for both
	// Third parties (issue 13).
	"CP-10.1": true, // register with inventory categories, derived tier, assessment and security approval
	"CP-10.2": true, // leased live endpoint checks with history and degraded alert; reassessment and contract expiry alerts
	"MTL-6.1": true, // versioned question set, staff or single-use vendor link, four-eyes approval, reassessment due
	"MTL-6.2": true, // contracts and DPAs with file, SHA-256, security clauses, expiry warning and alert
	// The live compliance report (issue 14).
	"MTL-7.2": true, // evidence per clause on a schedule with history, the report (page, HTML, JSON, PDF), internal audits into the findings register, the signed bundle
	// Monitoring (issue 11), complete once the dashboard was named (issue 14).
	"CP-3.2": true, // security role with its dashboard, alert triage and delivery, incidents
	"CP-8.1": true, // live feed across nodes, dashboard, request metrics and logs, audit export and anchors
	"CP-8.2": true, // risk at every sign-in with actions, detection rules with responses, shared counters in the database
}

// gaps says, for each clause with controls that is not complete, which
// part of its requirement has no control yet. TestEveryClauseAccounted
// keeps complete and gaps apart and whole.
var gaps = map[string]string{}

// Covered reports whether the controls of clause id cover every part of
// its requirement.
func Covered(id string) bool { return complete[id] }

// Gap returns what the controls of a partial clause do not cover yet ("" for
// a complete clause).
func Gap(id string) string { return gaps[id] }

// ClauseState is a clause's status in the report.
type ClauseState string

// The states of a clause.
const (
	// Enforced: its controls cover its whole requirement and every
	// evidence check passes.
	Enforced ClauseState = "enforced"
	// Partial: a part of its requirement has no control yet, a check warns
	// or its evidence has not been taken yet.
	Partial ClauseState = "partial"
	// Failing: an evidence check fails.
	Failing ClauseState = "failing"
	// NotYet: no control enforces it.
	NotYet ClauseState = "not yet"
)

// ClauseStatus computes a clause's state from its controls and its evidence:
// never typed by hand. checks are the names of the clause's evidence checks,
// results their latest results (a check with no result has not been taken
// yet). The reasons say why a clause is not enforced, one per cause.
func ClauseStatus(id string, controls int, checks []string, results map[string]Result) (ClauseState, []string) {
	if controls == 0 {
		return NotYet, []string{"no control enforces it yet"}
	}
	var failing, partial []string
	for _, name := range checks {
		r, ok := results[name]
		switch {
		case !ok:
			partial = append(partial, fmt.Sprintf("evidence %s has not been taken yet", name))
		case r.Status == Fail:
			failing = append(failing, fmt.Sprintf("evidence %s fails: %s", name, r.Summary))
		case r.Status == Warn:
			partial = append(partial, fmt.Sprintf("evidence %s warns: %s", name, r.Summary))
		}
	}
	if !complete[id] {
		partial = append([]string{"controls cover part of it: " + gaps[id]}, partial...)
	}
	switch {
	case len(failing) > 0:
		return Failing, append(failing, partial...)
	case len(partial) > 0:
		return Partial, partial
	}
	return Enforced, nil
}

// CoverageStatus is a clause's status from its controls alone, as
// docs/compliance.md shows it: "enforced", "partial" or "not yet".
func CoverageStatus(id string, controls int) ClauseState {
	switch {
	case controls == 0:
		return NotYet
	case complete[id]:
		return Enforced
	}
	return Partial
}

// ChecksOf returns the names of the checks that give evidence for clause
// id, in their order.
func ChecksOf(checks []Check, id string) []string {
	var out []string
	for _, c := range checks {
		if slices.Contains(c.Clauses, id) {
			out = append(out, c.Name)
		}
	}
	return out
}

// Accounted checks that every clause has evidence (a check) or a reviewed
// reason why none is possible, never both, and that complete and gaps
// agree with the controls: the registry's own consistency, which
// TestEveryClauseAccounted keeps.
func Accounted(controls []policy.Control, checks []Check) error {
	cov, err := policy.Coverage(controls)
	if err != nil {
		return err
	}
	var problems []string
	for _, c := range cov {
		id := c.Clause.ID
		has := len(ChecksOf(checks, id)) > 0
		reason, none := noLiveEvidence[id]
		switch {
		case has && none:
			problems = append(problems, id+": has evidence checks and a reason why none is possible")
		case !has && !none:
			problems = append(problems, id+": neither an evidence check nor a reason why none is possible")
		case none && strings.TrimSpace(reason) == "":
			problems = append(problems, id+": empty reason")
		}
		switch {
		case complete[id] && gaps[id] != "":
			problems = append(problems, id+": complete and with a gap")
		case !complete[id] && len(c.Controls) > 0 && gaps[id] == "":
			problems = append(problems, id+": partial without saying what is missing")
		case complete[id] && len(c.Controls) == 0:
			problems = append(problems, id+": complete without a control")
		}
	}
	for id := range noLiveEvidence {
		if _, ok := policy.ClauseByID(id); !ok {
			problems = append(problems, "noLiveEvidence: unknown clause "+id)
		}
	}
	for id := range complete {
		if _, ok := policy.ClauseByID(id); !ok {
			problems = append(problems, "complete: unknown clause "+id)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("compliance registry: %s", strings.Join(problems, "; "))
	}
	return nil
}

// NoLiveEvidence returns the reviewed reason why clause id has no live
// evidence ("" when it has some).
func NoLiveEvidence(id string) string { return noLiveEvidence[id] }

// noLiveEvidence says, for a clause that the running system cannot give
// evidence of, why not and where its proof is instead. Each reason is
// reviewed in docs/compliance-report.md.
var noLiveEvidence = map[string]string{
	"MTL-8.2": "The security guidelines and tips are pages of the binary (internal/web, /security), rendered from its " +
		"templates with the live profile's numbers: what they say is fixed by the build, not by data the running " +
		"system holds, so no query on it can show more than the test does. Proof: internal/web TestPagesRender " +
		"(the page's advice on passwords, second factors, phishing and reporting, with the profile's values). The " +
		"security notices that go with them are evidenced live by identity.password-policy (expiry warnings sent).",
}
