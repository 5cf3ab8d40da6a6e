package web

import (
	"net/http"
	"net/url"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/policy"
)

// flashes are the fixed confirmations a redirect can ask a page to show
// (?done=...). Only these texts can appear: nothing from the URL is
// reflected into the page.
var flashes = map[string]string{
	"signed-out":                             "You have signed out.",
	"code-sent":                              "We sent you a new code. The codes we sent before it no longer work.",
	"incident-open":                          "The incident is open. Its clocks run from the detection time.",
	"incident-check":                         "The item is ticked, with your name.",
	"incident-advance":                       "The incident moved to its next phase.",
	"incident-affected":                      "The affected customers are found and kept as a snapshot with the query.",
	"incident-contain-end_sessions":          "Every session and API token of the affected customers has ended.",
	"incident-contain-force_password_change": "The affected customers must change their password before anything else.",
	"incident-contain-lock":                  "The affected customers' accounts are locked.",
	"incident-awareness":                     "The time of awareness is recorded with your reason; the regulator's clock runs from it.",
	"incident-decision":                      "The breach decision is recorded with your reasoning.",
	"notice-saved":                           "The notice is saved. Check the preview: it is what each customer will read.",
	"notice-sent":                            "The notice is on its way to the affected customers, in the portal and by email.",
	"notice-resent":                          "The email is queued again for those it did not reach.",
	"assessment-saved":                       "The assessment is saved and the report below redrafted from it.",
	"submission-recorded":                    "The submission is recorded with a snapshot of the report as it stands.",
	"notice-step":                            "Thank you: that step is marked done.",
	"alert-acknowledged":                     "The alert is acknowledged and assigned to you.",
	"alert-dismissed":                        "The alert is dismissed; your reason is kept with it.",
	"alert-escalated":                        "The alert is escalated.",
	"response-undone":                        "The automatic response was undone.",
	"report-assign":                          "The report is assigned to you.",
	"report-note":                            "Your note is kept with the report. The customer does not see it.",
	"report-ask":                             "The question is on the customer's page for the report, and they were told by email. The report waits for their answer.",
	"report-escalate":                        "The report is escalated to an incident.",
	"report-close":                           "The report is closed; the customer was told the outcome.",
	"report-answered":                        "Thank you. Your answer went to our security team.",
	"verified":                               "Your email address is confirmed. Sign in to continue.",
	"verified-signed-in":                     "Your email address is confirmed and you are signed in.",
	"password-changed":                       "Your password was changed.",
	"password-reset":                         "Your password was changed. Sign in with it now; we will still ask for your second factor.",
	"session-ended":                          "The session was signed out.",
	"sessions-ended":                         "Your other sessions were signed out, and any API tokens ended.",
	"totp-added":                             "Your authenticator app is set up. If you think someone else may be signed in to your account, sign out your other sessions below.",
	"totp-removed":                           "The authenticator app was removed.",
	"passkey-added":                          "Your passkey is saved. If you think someone else may be signed in to your account, sign out your other sessions below.",
	"passkey-removed":                        "The passkey was removed.",
	"passkey-renamed":                        "The passkey was renamed.",
	"reported":                               "Thank you. Your report went to our security team, who will look into it and contact you.",
	"reauthenticated":                        "Thanks, that was you. Carry on.",
	"recovery-already-made":                  "Those recovery codes were already made and shown; nothing changed. If you did not save them, make a new set.",
	"stepup-lapsed":                          "Your password is confirmed, but the action that was waiting for it had expired or was already done. Please do it again.",
	"notice-read":                            "Marked as read.",
	"account-created":                        "Your account is ready.",
	"signed-in":                              "You are signed in.",
	"recovery-replaced":                      "Your old recovery codes no longer work.",
	"email-changed":                          "Your email address was changed.",
	"ticket-opened":                          "Your ticket is open. We will reply here and tell you by a notice.",
	"reply-sent":                             "Your reply was sent.",
	"ticket-closed":                          "The ticket is closed.",
	"ticket-updated":                         "The ticket was updated.",
	"revealed":                               "The field is revealed for you for a limited time. The customer can see that you did, and why.",
	"report-filed":                           "The report went to the security team.",
	"contact-saved":                          "Your name and phone number were saved.",
	"account-updated":                        "Done. The change is in the audit trail.",
	"role-changed":                           "The role was changed; the account was signed out everywhere and told.",
	"role-requested":                         "Granting or removing the administrator role needs a second administrator: the request is waiting on the Approvals page.",
	"disable-requested":                      "Disabling an administrator needs a second administrator: the request is waiting on the Approvals page.",
	"policy-requested":                       "These changes weaken the policy, so a second administrator must approve them: the request is waiting below. Nothing was written yet.",
	"approval-decided":                       "Decision recorded.",
	"token-revoked":                          "The token was revoked. It stopped working at once.",
	"policy-saved":                           "Saved to the policy file and recorded in the audit trail. The new values apply when Portico is restarted.",
	"rectified":                              "Corrected. The change is recorded, with your reason.",
	"consent-saved":                          "Your choice is saved. You can change it at any time.",
	"notice-acknowledged":                    "Thank you for reading our privacy notice.",
	"notice-published":                       "The new version is published. Customers are asked to read it when they next sign in.",
	"erasure-scheduled":                      "Your account is scheduled for deletion. You can cancel it on this page until then.",
	"erasure-cancelled":                      "The deletion is cancelled. Your account stays.",
	"email-revealed":                         "The address is revealed for you for a limited time. The account holder can see that you did, and why.",
	"invited":                                "The invitation is sent. Its link works once, for three days; the invitation is listed below until it is accepted.",
	"invitation-revoked":                     "The invitation is revoked: its link no longer works and the address is deleted.",
	"invitation-accepted":                    "Your password is set. Sign in with your email address and it: you will then set up a second factor, which every member of staff needs.",
	// CP-6.3: a session ended because its context changed.
	"risk-country_change":    "For your safety we signed you out: your session was used from a different country. Please sign in again.",
	"risk-user_agent_change": "For your safety we signed you out: your session was used from a different browser. Please sign in again.",
}

// flashFrom returns the confirmation named by ?done=, if any.
func flashFrom(r *http.Request) string {
	return flashes[r.URL.Query().Get("done")]
}

// accountChrome fills the parts of every page that depend on the signed-in
// account: the header's links, the unread count and standing warnings.
func (s *Server) accountChrome(r *http.Request, p *Page) {
	pr := access.PrincipalFrom(r.Context())
	if !pr.SignedIn() {
		return
	}
	p.SignedIn = true
	p.FullAccess = pr.Stage == access.StageDone || pr.Stage == access.StageTraining
	if !p.FullAccess {
		return
	}
	ctx := r.Context()
	acct := accountFrom(ctx)
	p.Nav = Nav{
		Tickets: access.Allowed(pr, access.TicketOwn),
		Admin:   access.Allowed(pr, access.UserRead) || access.Allowed(pr, access.AuditRead),
		// Compliance: the live report (MTL-7.2).
		Compliance: access.Allowed(pr, access.ComplianceRead),
	}
	switch {
	case access.Allowed(pr, access.TicketQueue):
		p.Nav.Desk = "/desk"
	case access.Allowed(pr, access.CustomerLookup):
		p.Nav.Desk = "/desk/customers"
	}
	incidentUnread := 0
	if s.notices != nil {
		if n, inc, err := s.notices.UnreadCounts(ctx, acct.ID); err == nil {
			p.Unread, incidentUnread = n, inc
		}
	}
	// Enforces CP-9.1, MTL-5.1.2: a notice about a security incident is
	// shown on every page until the customer has read it.
	if incidentUnread > 0 && r.URL.Path != "/account/notices" {
		p.Banner = "We wrote to you about a security incident that affects your account. Please read what happened and what to do."
		p.BannerLink = "/account/notices"
		p.BannerAction = "Read the notice"
		return
	}
	if pr.Restricted {
		p.Banner = "Processing of your data is restricted, as you asked: your account is read-only."
		p.BannerLink = ""
		return
	}
	// A scheduled deletion is said on every page until it happens or is
	// cancelled, not only on the data page (CP-11.1).
	if acct.Role == access.RoleCustomer && s.rights != nil && r.URL.Path != "/account/data" {
		if e, ok, err := s.rights.PendingErasure(ctx, acct.ID); err == nil && ok {
			p.Banner = "Your account and data will be deleted on " + e.ScheduledFor.UTC().Format("2 January 2006") + ". Changed your mind? You can cancel until then."
			p.BannerLink = "/account/data#erasure"
			p.BannerAction = "Cancel the deletion"
			return
		}
	}
	// Enforces MTL-2.1.1: a customer is asked to read a new version of
	// the privacy notice until they acknowledge it.
	if acct.Role == access.RoleCustomer && s.rights != nil && acct.PrivacyVersion != s.rights.CurrentVersion(ctx) && r.URL.Path != "/account/privacy-notice" {
		p.Banner = "We updated our privacy notice. Please read what changed."
		p.BannerLink = "/account/privacy-notice?next=" + url.QueryEscape(r.URL.Path)
		return
	}
	// Enforces CP-12: staff whose training is overdue are told why their
	// role's pages are closed to them.
	if pr.Stage == access.StageTraining {
		p.Banner = "Your security-awareness training was due on " + s.identity.TrainingDue(acct).UTC().Format("2 January 2006") +
			". Until it is done, you can use only your own account pages."
		if s.training != nil {
			p.BannerLink, p.BannerAction = "/training", "Take your training now"
		}
		return
	}
	// Enforces CP-4.3: a warning before the password expires.
	if at, soon := s.identity.ExpiryWarning(acct, s.db.Now()); soon {
		p.Banner = "Your password expires on " + at.UTC().Format("2 January 2006") + ". Change it before then to keep signing in without interruption."
		p.BannerLink = "/account/password"
		return
	}
	// Enforces MTL-3.1.2: where MFA is only encouraged, a standing prompt.
	if s.identity.Profile().MFA.Mode == policy.MFAEncouraged && !acct.HasSecondFactor() {
		p.Banner = "Protect your account with a second factor: an authenticator app or a passkey takes a minute to set up."
		p.BannerLink = "/account/mfa/setup"
	}
}
