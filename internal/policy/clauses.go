package policy

// Clause is one clause of the two policies that Portico enforces, as listed in
// the project's clause table (policies/CLAUSES.md): its stable ID, the policy
// it belongs to, a short form of its text and what Portico must do for it.
type Clause struct {
	ID          string // stable ID, e.g. "CP-4.1" or "MTL-3.1.2"
	Policy      string // PolicyCP or PolicyMTL
	Title       string // the clause in short ("Clause (short)" column)
	Requirement string // what Portico must do ("What Portico must do" column)
}

// The two policies whose clauses Portico enforces; Clause.Policy holds one of
// them, spelled as the headings of the clause table spell them.
const (
	PolicyCP  = "Customer Portal Policy"
	PolicyMTL = "1642MTL Webpage Security Policy"
)

// clauses is the clause table in document order. It is Go data rather than an
// embedded copy of CLAUSES.md because that file lives outside the module;
// TestClausesMatchTable keeps the two identical.
var clauses = []Clause{
	{"CP-3.1", PolicyCP, "Customers follow guidelines, report suspicious activity, keep strong passwords", "Customer security guidelines page; report-suspicious-activity flow; password policy"},
	{"CP-3.2", PolicyCP, "IT team secures the portal, monitors, responds", "Security-team role with monitoring dashboard, alerts, incidents"},
	{"CP-3.3", PolicyCP, "Support team assists customers, facilitates incident reporting", "Support role: ticket desk; can raise a security report on a customer's behalf"},
	{"CP-4.1", PolicyCP, "MFA required to access the portal", "MFA enrolment forced; no session reaches customer data without a second factor"},
	{"CP-4.2", PolicyCP, "RBAC: access only to necessary resources", "Deny-by-default permissions per role, object-level checks, least privilege"},
	{"CP-4.3", PolicyCP, "Passwords meet length/complexity criteria and expire periodically", "Password policy engine; expiry with warnings and forced change"},
	{"CP-5.1", PolicyCP, "Data encrypted in transit and at rest", "TLS 1.2+/HSTS; PII encrypted at rest with managed, rotatable keys"},
	{"CP-5.2", PolicyCP, "Retention periods defined; data securely deleted after", "Retention schedule per data category; purge job; crypto-shredding"},
	{"CP-5.3", PolicyCP, "Monitoring and logging for compliance and unauthorised access", "Tamper-evident audit trail of every security-relevant event"},
	{"CP-6.1", PolicyCP, "Secure coding against CSRF and XSS", "Fetch-metadata CSRF defence, contextual escaping, strict nonce CSP"},
	{"CP-6.2", PolicyCP, "Regular vulnerability testing", "Security regression suite in CI; record of assessments and findings"},
	{"CP-6.3", PolicyCP, "Zero-Trust evaluated and implemented", "Every request authenticated and authorised; continuous session risk checks"},
	{"CP-7.1", PolicyCP, "Incidents communicated to customers within 24 hours of detection", "Incident clock from detection; 24 h customer-communication deadline tracked and alerted"},
	{"CP-7.2", PolicyCP, "Incident plan: containment, eradication, recovery", "Incident lifecycle with those phases and their checklists"},
	{"CP-7.3", PolicyCP, "Customers report suspicious activity via portal or support", "Report form for customers; support can file on their behalf; triage queue"},
	{"CP-8.1", PolicyCP, "Real-time monitoring and logging", "Live security event stream and dashboard; metrics"},
	{"CP-8.2", PolicyCP, "Behavioural analytics for compromised accounts", "Risk signals (new device, impossible travel, brute force, credential stuffing, session hijack) with actions"},
	{"CP-9.1", PolicyCP, "Breach: customers notified immediately with nature, impact, mitigation", "Breach notice that cannot be sent without those fields; delivered in-portal and by email"},
	{"CP-9.2", PolicyCP, "Follow-up notifications with corrective actions and required customer steps", "Follow-ups linked to the breach notice, tracked per customer"},
	{"CP-10.1", PolicyCP, "Third parties vetted for security and supply-chain risk", "Vendor register with assessments, risk tier, approval"},
	{"CP-10.2", PolicyCP, "Continuous monitoring of third parties", "Scheduled checks of vendors' endpoints and of assessment/contract expiry"},
	{"CP-11.1", PolicyCP, "GDPR compliance", "Data-subject rights: access/export, rectification, erasure, consent records"},
	{"CP-11.2", PolicyCP, "Annual review, or on significant change", "Policy documents versioned with owner, review due dates, review records"},
	{"CP-12", PolicyCP, "Non-compliance restricts portal access", "Restricted mode for accounts out of compliance (no MFA, expired password, overdue training)"},
	{"MTL-1.1", PolicyMTL, "Confidentiality, integrity, availability of user data", "Encryption, tamper-evident audit, backups, health checks"},
	{"MTL-1.2", PolicyMTL, "Applies to employees, contractors, third-party providers", "Staff and contractor accounts under the same controls; vendor register"},
	{"MTL-2.1.1", PolicyMTL, "Personal data processed per privacy laws", "Records of processing: each data category with its lawful basis"},
	{"MTL-2.1.2", PolicyMTL, "Data used only for its purpose; users informed", "Versioned privacy notice shown and accepted; purposes recorded per field"},
	{"MTL-2.1.3", PolicyMTL, "Encryption and access controls protect personal data", "As CP-5.1 and CP-4.2"},
	{"MTL-3.1.1", PolicyMTL, "Strong and unique passwords enforced", "Strength estimate, breached/common-password blocklist, no reuse of recent passwords"},
	{"MTL-3.1.2", PolicyMTL, "2FA encouraged and implemented wherever possible", "TOTP, passkeys (WebAuthn), recovery codes; policy can require or encourage"},
	{"MTL-3.2.1", PolicyMTL, "Supporters get least-privilege access", "Support role sees masked customer data by default"},
	{"MTL-3.2.2", PolicyMTL, "Sensitive data and configuration restricted to authorised personnel", "Reveal of sensitive data needs a reason, is time-bound and audited; configuration admin-only"},
	{"MTL-4.1.1", PolicyMTL, "Secure coding practices and code reviews", "Documented practices; security test suite; review checklist"},
	{"MTL-4.1.2", PolicyMTL, "Known vulnerabilities patched; latest stable version", "Dependency inventory shown to admins; current Go and modules"},
	{"MTL-4.2.1", PolicyMTL, "Sensitive data encrypted in transit (HTTPS)", "TLS only, AEAD cipher suites, HSTS, secure cookies"},
	{"MTL-4.3.1", PolicyMTL, "Regular vulnerability assessments and penetration tests", "Assessment records with findings and remediation due dates"},
	{"MTL-4.3.2", PolicyMTL, "Security patches applied promptly", "Findings tracked to closure with deadlines"},
	{"MTL-5.1.1", PolicyMTL, "Incidents reported to authorities as the law requires", "Regulator-notification deadline (72 h, GDPR Art. 33) with the required content"},
	{"MTL-5.1.2", PolicyMTL, "Affected users notified promptly with guidance", "As CP-9.1"},
	{"MTL-5.2.1", PolicyMTL, "Incident response plan maintained", "Versioned incident response plan inside Portico"},
	{"MTL-5.2.2", PolicyMTL, "Incident procedures regularly tested and reviewed", "Exercise records (tabletop/drill) with findings, due dates"},
	{"MTL-6.1", PolicyMTL, "Third parties' security practices assessed", "As CP-10.1"},
	{"MTL-6.2", PolicyMTL, "Agreements define security responsibilities", "Contracts/DPAs recorded per vendor with expiry"},
	{"MTL-7.1", PolicyMTL, "Comply with data-protection law", "As CP-11.1"},
	{"MTL-7.2", PolicyMTL, "Regular audits of compliance", "Compliance report with live evidence per clause; audit records"},
	{"MTL-8.1", PolicyMTL, "Security awareness training for employees and contractors", "Training modules, completion tracking, reminders; staff access gated on it"},
	{"MTL-8.2", PolicyMTL, "Security guidelines and education for users", "Customer security guidelines and tips in the portal"},
}

// clauseIndex maps an ID to its position in clauses.
var clauseIndex = func() map[string]int {
	m := make(map[string]int, len(clauses))
	for i, c := range clauses {
		m[c.ID] = i
	}
	return m
}()

// Clauses returns every clause in document order: the Customer Portal Policy
// first, then the 1642MTL policy. The slice is a copy; callers may keep it.
func Clauses() []Clause {
	return append([]Clause(nil), clauses...)
}

// ClauseByID returns the clause with the given ID, such as "CP-7.1".
func ClauseByID(id string) (Clause, bool) {
	i, ok := clauseIndex[id]
	if !ok {
		return Clause{}, false
	}
	return clauses[i], true
}
