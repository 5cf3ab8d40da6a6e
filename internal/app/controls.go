package app

import (
	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/alertout"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/backup"
	"github.com/portico/portico/internal/codecheck"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/retention"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/training"
	"github.com/portico/portico/internal/vendorcheck"
	"github.com/portico/portico/internal/vulncheck"
	"github.com/portico/portico/internal/web"
)

// Controls collects every control of the program, for the compliance map
// (docs/compliance.md, kept true by TestComplianceMap) and, later, the live
// compliance report.
func Controls() []policy.Control {
	out := []policy.Control{
		{Clause: "CP-5.1", Name: "app.tls-policy",
			Description: "HTTPS only: TLS 1.2 and 1.3, ECDHE with AEAD cipher suites (no CBC), HTTP/2; the optional plain-HTTP listener only redirects GET/HEAD and refuses anything else.",
			Test:        "internal/app: TestTLSPolicy"},
		{Clause: "MTL-4.2.1", Name: "app.tls-policy",
			Description: "Sensitive data travels only over TLS 1.2+ with AEAD suites; plain HTTP never carries a form.",
			Test:        "internal/app: TestPlainHTTPOnlyRedirects"},
		{Clause: "MTL-1.1", Name: "app.graceful-shutdown",
			Description: "Availability and integrity on stop: in-flight requests finish, the database closes cleanly, start and stop are audited.",
			Test:        "internal/app: TestGracefulShutdown"},
		{Clause: "CP-6.2", Name: "app.security-regression-suite",
			Description: "The browser suite runs in CI against real Chromium: zero CSP violations, cross-origin POST refused, security headers present.",
			Test:        "internal/app: TestBrowser"},
	}
	out = append(out, web.Controls()...)
	out = append(out, access.Controls()...)
	out = append(out, support.Controls()...)
	out = append(out, apitoken.Controls()...)
	out = append(out, privacy.Controls()...)
	out = append(out, retention.Controls()...)
	out = append(out, backup.Controls()...)
	out = append(out, crypto.Controls()...)
	out = append(out, audit.Controls()...)
	out = append(out, identity.Controls()...)
	out = append(out, password.Controls()...)
	out = append(out, session.Controls()...)
	out = append(out, passkey.Controls()...)
	out = append(out, notify.Controls()...)
	out = append(out, approval.Controls()...)
	out = append(out, policy.Controls()...)
	out = append(out, detect.Controls()...)
	out = append(out, incident.Controls()...)
	out = append(out, training.Controls()...)
	out = append(out, governance.Controls()...)
	out = append(out, alertout.Controls()...)
	out = append(out, vulncheck.Controls()...)
	out = append(out, findings.Controls()...)
	out = append(out, vendorcheck.Controls()...)
	out = append(out, codecheck.Controls()...)
	out = append(out, thirdparty.Controls()...)
	return out
}

// complete lists the clauses whose whole requirement ("What Portico must
// do" in CLAUSES.md) has controls in place; the others with controls are
// partial. A capability that completes a clause adds it here.
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
}

// ClauseStatus says how far the controls of a clause go: "enforced" or
// "partial" (a clause with no control at all is "not yet" in the map).
func ClauseStatus(id string) string {
	if complete[id] {
		return "enforced"
	}
	return "partial"
}
