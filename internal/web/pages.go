package web

import (
	"net/http"

	"github.com/portico/portico/internal/policy"
)

type landingPage struct{ Page }

func (s *Server) landing(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "landing", landingPage{Page: s.page(w, r, "Welcome")})
}

// guidelinesPage is the customer security guidance. Enforces MTL-8.2 and
// CP-3.1: customers are told how to keep their account safe and how to
// report suspicious activity, with the numbers of the live policy profile.
type guidelinesPage struct {
	Page
	MinLength         int
	MFARequired       bool
	ExpiryDays        int
	ExpiryWarningDays int
	NotifyHours       int
}

func (s *Server) guidelines(w http.ResponseWriter, r *http.Request) error {
	p := s.profile
	return s.render(w, "guidelines", guidelinesPage{
		Page:              s.page(w, r, "Security tips"),
		MinLength:         p.Password.MinLength,
		MFARequired:       p.MFA.Mode == policy.MFARequired,
		ExpiryDays:        p.Password.ExpiryDays,
		ExpiryWarningDays: p.Password.ExpiryWarningDays,
		NotifyHours:       int(p.Incident.CustomerNotification.Hours()),
	})
}

// privacyPage is the privacy notice. Enforces MTL-2.1.2: users are told
// what is collected, for which purpose, on which basis and for how long;
// retention periods come from the live policy profile.
type privacyPage struct {
	Page
	NoticeVersion    string
	Categories       []dataCategory
	ErasureGraceDays int
	RequestDeadline  string
	NotifyHours      int
	RegulatorHours   int
}

type dataCategory struct {
	Name, Purpose, Basis, Retention string
}

// privacyNoticeVersion is the version of the notice text below. Versioned
// notices that customers acknowledge arrive with the data-protection issue.
const privacyNoticeVersion = "2026-11"

func (s *Server) privacyNotice(w http.ResponseWriter, r *http.Request) error {
	p := s.profile
	ret := p.Retention
	return s.render(w, "privacy", privacyPage{
		Page:          s.page(w, r, "Privacy notice"),
		NoticeVersion: privacyNoticeVersion,
		Categories: []dataCategory{
			{"Account identity (email address, name)", "To run your account and sign you in.", "Contract", "While your account exists; inactive accounts are closed after " + ret.InactiveAccounts.Human() + ", with a warning first."},
			{"Contact details (phone, address)", "To reach you about your account and incidents.", "Contract", "While your account exists."},
			{"Sign-in history (time, device, IP address, country)", "To protect your account and show you recent activity.", "Legitimate interest (security)", ret.SignInHistory.Human() + "."},
			{"Support tickets", "To answer your requests.", "Contract", ret.ClosedTickets.Human() + " after the ticket is closed."},
			{"Security reports and notices", "To investigate incidents and keep you informed.", "Legal obligation and legitimate interest", ret.SecurityReports.Human() + "."},
			{"Unconfirmed sign-ups", "To finish creating your account.", "Contract (pre-contract steps)", ret.UnverifiedSignups.Human() + ", then deleted."},
			{"Audit records (what was done, when, by which account)", "To keep a tamper-evident record of security events, as our policy and the law require.", "Legal obligation", ret.AuditEvents.Human() + "; they hold an opaque account number, no personal details."},
		},
		ErasureGraceDays: int(p.Privacy.ErasureGrace.Hours() / 24),
		RequestDeadline:  p.Privacy.RequestDeadline.Human(),
		NotifyHours:      int(p.Incident.CustomerNotification.Hours()),
		RegulatorHours:   int(p.Incident.RegulatorNotification.Hours()),
	})
}
