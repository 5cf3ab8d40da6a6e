package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/incident"

	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// accountPage is the account's home.
type accountPage struct {
	Page
	Email, Name string
	Account     identity.Account
	Staff       bool
	Tokens      bool // may hold API tokens
	TrainingDue time.Time
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	acct := accountFrom(ctx)
	email, err := s.identity.Email(ctx, acct.ID)
	if err != nil {
		return err
	}
	name, err := s.identity.Name(ctx, acct.ID)
	if err != nil {
		return err
	}
	p := access.PrincipalFrom(ctx)
	return s.render(w, "account", accountPage{Page: s.page(w, r, "Your account"), Email: email, Name: name, Account: acct,
		Staff: acct.Role.IsStaff(), Tokens: s.tokens != nil && access.Has(p.Role, access.TokenOwn), TrainingDue: s.identity.TrainingDue(acct)})
}

// riskRow is a session ended on a risk signal, told to its owner.
type riskRow struct {
	At   time.Time
	What string
}

// riskText says what happened, from the signal's coarse details.
func riskText(sig identity.RiskSignal) string {
	switch sig.Kind {
	case identity.RiskCountryChange:
		return "A session was signed out because it was used from another country (" + sig.Detail["from_country"] + " to " + sig.Detail["to_country"] + ")."
	case identity.RiskUserAgentChange:
		return "A session was signed out because it was used from another browser (" + sig.Detail["to_device"] + ")."
	case identity.RiskBlockedNetwork:
		return "A session was signed out because it was used from a network we block."
	}
	return "A session was signed out for your safety."
}

// securityPage is /account/security: factors, sessions, password age,
// recent sign-ins, each with "this wasn't me".
type securityPage struct {
	Page
	Risks           []riskRow
	Account         identity.Account
	Passkeys        []passkeyRow
	PasskeysEnabled bool
	RecoveryLeft    int
	RecoverySet     string // names the current set, for the form that replaces it
	PasswordChanged time.Time
	PasswordExpires time.Time
	Sessions        []sessionRow
	SignIns         []identity.SignInEvent
	Reports         []identity.Report // the account's suspicious-activity reports
	MFARequired     bool
}

type sessionRow struct {
	session.Session
	Current bool
}

type passkeyRow struct {
	ID, Name   string
	Created    time.Time
	LastUsedAt time.Time
}

func (s *Server) accountSecurity(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	acct := accountFrom(ctx)
	cur, _ := session.FromContext(ctx)
	p := securityPage{
		Page:            s.page(w, r, "Security"),
		Account:         acct,
		PasswordChanged: acct.PasswordChangedAt,
		PasswordExpires: s.identity.PasswordExpiresAt(acct),
		MFARequired:     s.identity.MFARequired(acct),
		PasskeysEnabled: s.passkeys != nil,
	}
	var err error
	if p.RecoveryLeft, err = s.identity.RecoveryCodesLeft(ctx, acct.ID); err != nil {
		return err
	}
	if p.RecoverySet, err = s.identity.RecoverySet(ctx, acct.ID); err != nil {
		return err
	}
	sessions, err := s.identity.Sessions(ctx, acct.ID)
	if err != nil {
		return err
	}
	for _, x := range sessions {
		p.Sessions = append(p.Sessions, sessionRow{Session: x, Current: x.ID == cur.ID})
	}
	if p.Reports, err = s.identity.Reports(ctx, acct.ID); err != nil {
		return err
	}
	if p.SignIns, err = s.identity.RecentSignIns(ctx, acct.ID, 20); err != nil {
		return err
	}
	signals, err := s.identity.RiskSignals(ctx, acct.ID, 10)
	if err != nil {
		return err
	}
	for _, sig := range signals {
		p.Risks = append(p.Risks, riskRow{At: sig.CreatedAt, What: riskText(sig)})
	}
	if s.passkeys != nil {
		if p.Passkeys, err = s.passkeyRows(r); err != nil {
			return err
		}
	}
	return s.render(w, "security", p)
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	acct := accountFrom(r.Context())
	if err := s.identity.EndSession(r.Context(), acct.ID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/security?done=session-ended", http.StatusSeeOther)
	return nil
}

func (s *Server) endOtherSessions(w http.ResponseWriter, r *http.Request) error {
	acct := accountFrom(r.Context())
	cur, _ := session.FromContext(r.Context())
	if _, err := s.identity.EndOtherSessions(r.Context(), acct.ID, cur.ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/security?done=sessions-ended", http.StatusSeeOther)
	return nil
}

// reportPage follows "this wasn't me": the report is stored, and the
// page offers the two things to do next.
type reportPage struct {
	Page
	EventID string
}

// reportSuspicious stores a "this wasn't me" report (CP-7.3) and shows
// what to do next: end other sessions, change the password.
func (s *Server) reportSuspicious(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	acct := accountFrom(r.Context())
	event := r.PostForm.Get("event")
	if _, err := s.identity.ReportSuspicious(r.Context(), acct.ID, event, r.PostForm.Get("note"), "customer"); err != nil {
		return err
	}
	return s.render(w, "report_done", reportPage{Page: s.page(w, r, "Report sent"), EventID: event})
}

// noticesPage is the in-portal inbox of security notices.
type noticesPage struct {
	Page
	// Incidents are the notices about security incidents sent to this
	// customer, first, with the steps they ask (CP-9.1, CP-9.2).
	Incidents []incident.CustomerNotice
	Items     []noticeRow
}

type noticeRow struct {
	ID, Title, Body string
	At              time.Time
	Read            bool
}

func (s *Server) noticesPage(w http.ResponseWriter, r *http.Request) error {
	acct := accountFrom(r.Context())
	items, err := s.inbox(r, acct.ID)
	if err != nil {
		return err
	}
	page := noticesPage{Page: s.page(w, r, "Security notices"), Items: items}
	if s.incidents != nil {
		if page.Incidents, err = s.incidents.ForCustomer(r.Context(), acct.ID); err != nil {
			return err
		}
		shown := map[string]bool{}
		for _, n := range page.Incidents {
			shown[n.InboxID] = true
		}
		page.Items = slices.DeleteFunc(page.Items, func(it noticeRow) bool { return shown[it.ID] })
	}
	return s.render(w, "notices", page)
}

func (s *Server) markNoticeRead(w http.ResponseWriter, r *http.Request) error {
	acct := accountFrom(r.Context())
	if err := s.notices.MarkRead(r.Context(), acct.ID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/notices?done=notice-read", http.StatusSeeOther)
	return nil
}

// passwordPage changes the password; in restricted mode (expired or
// compromised) it is the only page the account can use.
type passwordPage struct {
	Page
	Rules    []string
	Required string // why a change is required now, or ""
}

func (s *Server) passwordPageData(w http.ResponseWriter, r *http.Request) passwordPage {
	acct := accountFrom(r.Context())
	return passwordPage{Page: s.page(w, r, "Change your password"), Rules: s.identity.PasswordRules(), Required: s.identity.ChangeRequired(acct)}
}

func (s *Server) passwordForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "password", s.passwordPageData(w, r))
}

func (s *Server) passwordChange(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	acct := accountFrom(r.Context())
	cur, _ := session.FromContext(r.Context())
	if f.Get("new") != f.Get("confirm") {
		p := s.passwordPageData(w, r)
		p.fieldProblem("confirm", "The two new passwords differ. Type the same new password twice.")
		return s.renderStatus(w, http.StatusUnprocessableEntity, "password", p)
	}
	err := s.identity.ChangePassword(r.Context(), acct.ID, cur.ID, f.Get("current"), f.Get("new"))
	if err != nil {
		if msg := formError(err); msg != "" {
			p := s.passwordPageData(w, r)
			p.formProblems(err, "current_password=current", "password=new")
			return s.renderStatus(w, formStatus(err), "password", p)
		}
		return err
	}
	http.Redirect(w, r, "/account/security?done=password-changed", http.StatusSeeOther)
	return nil
}
