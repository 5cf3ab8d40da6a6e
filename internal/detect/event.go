// Package detect is Portico's behavioural analytics: the risk of each
// sign-in, and rules run over the stream of security events that the other
// packages already record in the audit trail (brute force, credential
// stuffing, password spraying, impossible travel, session hijack, staff
// insider patterns, ...). A rule that fires raises an alert for the
// security team and takes the responses the policy profile names for it
// (throttle a network, challenge or lock an account, end its sessions,
// force a password change), each audited and each undoable.
//
// The rules are one pure state machine (Engine) fed one Event at a time.
// The server feeds it the audit trail, in order, on one node at a time
// (Detector); `portico detect replay` feeds it a log of sign-in attempts.
// Both run the same code with the same profile, so a replay shows what the
// server would have raised.
//
// Enforces CP-8.2 (suspicious patterns are recognised and answered),
// CP-5.3 (unauthorised access is detected from the records) and CP-8.1
// (the security team sees it as it happens).
package detect

import (
	"net/netip"
	"time"
)

// Kind is what an Event records.
type Kind uint8

// Kinds of event.
const (
	_                 Kind = iota
	SignIn                 // a completed sign-in (Method: the last factor)
	SignInFailure          // a failed attempt (Reason says which)
	PasswordOK             // the password step passed; a second factor is due
	RiskSignOut            // a session ended because its context changed (Reason: country_change, ...)
	Signup                 // an account was created by sign-up
	Reveal                 // staff revealed a customer's masked data (Target: the customer)
	AuditExport            // staff exported the audit trail (Count: events)
	StaffAction            // any other action by staff
	TokenNewNetwork        // an API token was used from a network it had not used (Target: the token)
	CustomerReport         // the owner reported activity as not theirs (Reason: the reported sign-in's risk level)
	IncidentOverdue        // an incident's deadline passed with nothing recorded (Target: the incident, Reason: the clock)
	GovernanceOverdue      // a governance duty passed its date (Target: what is overdue, e.g. finding:ID; Reason: its kind; Summary)
	VendorDegraded         // a third party's endpoint check got worse (Target: vendor:ID; Reason: the endpoint; Summary)
	ComplianceFailing      // a compliance evidence check began to fail (Target: compliance-check:NAME; Reason: its clauses; Summary)
)

// Failure reasons, as in the replay format.
const (
	ReasonBadPassword     = "bad_password"
	ReasonUnknownAccount  = "unknown_account"
	ReasonBadSecondFactor = "bad_second_factor"
	ReasonLocked          = "locked"
)

// MethodRecovery is the sign-in method of a recovery code.
const MethodRecovery = "recovery-code"

// Event is one thing that happened, as detection sees it.
type Event struct {
	Seq       int64 // the audit event's sequence number; 0 in a replay
	Time      time.Time
	Kind      Kind
	Account   string // the account it concerns: an account ID, or an email address in a replay; "" when unknown
	Actor     string // for staff events: who acted
	Target    string // for Reveal: the customer; for TokenNewNetwork: the token; for IncidentOverdue: the incident
	IP        string
	UserAgent string
	Reason    string
	Method    string
	Count     int
	// Summary is the sentence a governance event carries for its alert.
	Summary string
}

// Network is the network an address belongs to for detection: an IPv4 /24
// or an IPv6 /56, as the rate limits count them. Attackers rotate
// addresses inside such networks; one office sits behind one.
//
// The audit trail records the client's network rather than its address
// (web: an IPv4 /24 or IPv6 /48): such a prefix stands for its first
// address, so an IPv4 network is itself and an IPv6 /48 is counted as one.
func Network(ip string) string {
	a, err := addrOf(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 56
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ip
	}
	return p.String()
}

// addrOf parses an address, or a network prefix as its first address.
func addrOf(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().Addr(), nil
	}
	return netip.ParseAddr(s)
}
