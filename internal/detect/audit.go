package detect

import (
	"encoding/json"
	"strings"

	"github.com/portico/portico/internal/audit"
)

// staffActions are the audit actions only staff take: the staff rules
// (an hour never worked) learn from them.
var staffActions = []string{
	"customer.", "account.role", "account.disable", "account.unlock", "account.invite.create", "account.reveal",
	"account.contractor", "account.training", "account.sessions.end_all", "policy.", "keys.", "audit.export",
	"approval.", "backup.", "privacy.notice.publish", "alert.", "detect.", "ticket.assign",
}

// FromAudit turns an audit record into the event detection sees, or false
// when no rule looks at it. This is the only way the server feeds the
// rules: they see what the other packages already record, in the order the
// audit chain holds it.
func FromAudit(r audit.Record) (Event, bool) {
	ev := Event{Seq: r.Seq, Time: r.At, IP: r.IP, UserAgent: r.UserAgent}
	var d struct {
		Reason   string   `json:"reason"`
		Methods  []string `json:"methods"`
		Account  string   `json:"account"`
		Kind     string   `json:"kind"`
		Events   int      `json:"events"`
		Grant    string   `json:"grant"`
		Risk     string   `json:"risk_level"`
		Clock    string   `json:"clock"`
		State    string   `json:"state"`
		Summary  string   `json:"summary"`
		Endpoint string   `json:"endpoint"`
		Clauses  string   `json:"clauses"`
	}
	switch r.Action {
	case "login.failure", "login.success", "risk.signal", "audit.export", "token.new_network", "report.create", "incident.clock_warning", "incident.exercise_overdue",
		"governance.overdue", "vendor.check_degraded", "compliance.check_failed":
		// Only these need their details: the trail's other events are
		// not decoded (every event passes through here).
		_ = json.Unmarshal(r.Details, &d) // canonical JSON; a field of another type is left zero
	}
	account := strings.TrimPrefix(r.Target, "account:")
	if !strings.HasPrefix(r.Target, "account:") || account == "unknown" {
		account = ""
	}
	switch r.Action {
	case "login.failure":
		ev.Kind, ev.Account = SignInFailure, account
		switch d.Reason {
		case "bad_password":
			ev.Reason = ReasonBadPassword
		case "unknown_account":
			ev.Reason = ReasonUnknownAccount
		case "bad_code":
			ev.Reason = ReasonBadSecondFactor
		case "locked", "throttled", "disabled":
			ev.Reason = ReasonLocked
		default:
			return ev, false
		}
	case "login.password":
		ev.Kind, ev.Account = PasswordOK, account
	case "login.success":
		ev.Kind, ev.Account = SignIn, account
		if len(d.Methods) > 0 {
			ev.Method = d.Methods[len(d.Methods)-1]
		}
	case "risk.signal":
		if d.Account == "" { // a sign-in from a blocked network: no session to hijack
			return ev, false
		}
		ev.Kind, ev.Account, ev.Reason = RiskSignOut, d.Account, d.Kind
	case "account.signup":
		if r.Outcome != audit.Success {
			return ev, false
		}
		ev.Kind, ev.Account = Signup, account
	case "customer.reveal":
		ev.Kind, ev.Actor, ev.Target = Reveal, actor(r.Actor), account
	case "audit.export":
		ev.Kind, ev.Actor, ev.Count = AuditExport, actor(r.Actor), d.Events
	case "report.create":
		ev.Kind, ev.Account = CustomerReport, d.Account
		if d.Risk != "" && d.Risk != LevelLow {
			ev.Reason = d.Risk
		}
	case "token.new_network":
		ev.Kind, ev.Account, ev.Target = TokenNewNetwork, d.Account, strings.TrimPrefix(r.Target, "token:")
	case "incident.clock_warning":
		// internal/incident warns at half time and near the deadline by
		// email; the deadline passed is an alert as well.
		if d.State != "overdue" || !strings.HasPrefix(r.Target, "incident:") {
			return ev, false
		}
		ev.Kind, ev.Target, ev.Reason = IncidentOverdue, strings.TrimPrefix(r.Target, "incident:"), d.Clock
	case "incident.exercise_overdue":
		// The response plan's exercise is overdue (MTL-5.2.2): the
		// subject is the exercises, not an incident.
		ev.Kind, ev.Target, ev.Reason = IncidentOverdue, "exercises", "exercise"
	case "governance.overdue":
		// A governance duty passed its date (CP-6.2, CP-10.1, CP-11.2,
		// MTL-4.3.2, MTL-6.1, MTL-8.1): internal/governance, /vendor,
		// /training and /findings record it once per record and due date
		// (details: kind, summary).
		ev.Kind, ev.Target, ev.Reason, ev.Summary = GovernanceOverdue, r.Target, d.Kind, d.Summary
	case "vendor.check_degraded":
		// A vendor endpoint's scheduled check got worse (CP-10.2): details
		// endpoint and summary.
		ev.Kind, ev.Target, ev.Reason, ev.Summary = VendorDegraded, r.Target, d.Endpoint, d.Summary
	case "compliance.check_failed":
		// An evidence check of the compliance report began to fail
		// (MTL-7.2, CP-3.2): internal/compliance records it once per
		// failing period (details: clauses, summary).
		ev.Kind, ev.Target, ev.Reason, ev.Summary = ComplianceFailing, r.Target, d.Clauses, d.Summary
	default:
		if !strings.HasPrefix(r.Actor, "account:") {
			return ev, false
		}
		for _, p := range staffActions {
			if strings.HasPrefix(r.Action, p) {
				ev.Kind, ev.Actor = StaffAction, actor(r.Actor)
				return ev, true
			}
		}
		return ev, false
	}
	return ev, true
}

// actor is the account ID of an audit actor ("account:ID").
func actor(a string) string { return strings.TrimPrefix(a, "account:") }
