package web

import (
	"net/http"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
)

// handlerFunc is a handler that returns its error to the one renderer
// instead of writing error pages itself.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one line of the route table: a Go 1.22 pattern, the permission
// the route needs, and its handler.
type route struct {
	pattern string
	perm    access.Permission
	handler handlerFunc
}

// routes is the map of the site. Every route names its permission: there is
// no default (CP-4.2, CP-6.3), and TestEveryRouteNamesAPermission walks this
// table. State changes only happen on POST (CP-6.1).
func (s *Server) routes() []route {
	rs := []route{
		{"GET /{$}", access.Public, s.landing},
		{"GET /security", access.Public, s.guidelines},
		{"GET /privacy", access.Public, s.privacyNotice},
		{"GET /static/{name}", access.Public, s.serveStatic},
		{"GET /favicon.ico", access.Public, s.favicon},
		{"GET /healthz", access.Public, s.healthz},
		{"GET /readyz", access.Public, s.readyz},

		// Signing up and in (CP-4.1, CP-4.3, MTL-2.1.2).
		{"GET /signup", access.Public, s.signupForm},
		{"POST /signup", access.Public, s.signup},
		{"GET /verify/{token}", access.Public, s.verifyForm},
		{"POST /verify/{token}", access.Public, s.verify},
		{"GET /login", access.Public, s.loginForm},
		{"POST /login", access.Public, s.login},
		{"GET /login/mfa", access.SignInSecondFactor, s.mfaForm},
		{"POST /login/mfa", access.SignInSecondFactor, s.mfaVerify},
		// A new emailed code for a challenged sign-in (CP-8.2).
		{"POST /login/mfa/resend", access.SignInSecondFactor, s.emailCodeResend},
		{"GET /reset", access.Public, s.resetRequestForm},
		{"POST /reset", access.Public, s.resetRequest},
		{"GET /reset/{token}", access.Public, s.resetForm},
		{"POST /reset/{token}", access.Public, s.reset},
		// A staff invitation's link (CP-4.3): choose a password once.
		{"GET /invite/{token}", access.Public, s.inviteForm},
		{"POST /invite/{token}", access.Public, s.inviteAccept},
		{"GET /logout", access.SessionEnd, s.logoutForm},
		{"POST /logout", access.SessionEnd, s.logout},

		// The account's own pages (CP-6.3: step-up inside the handlers
		// for changes to factors and credentials).
		{"GET /account", access.AccountSelf, s.account},
		{"GET /account/security", access.AccountSelf, s.accountSecurity},
		{"POST /account/sessions/end-others", access.AccountSelf, s.endOtherSessions},
		{"POST /account/sessions/{id}/end", access.AccountSelf, s.endSession},
		{"POST /account/report", access.AccountSelf, s.reportSuspicious},
		{"GET /account/reauth", access.MFAEnrol, s.reauthForm},
		{"POST /account/reauth", access.MFAEnrol, s.reauth},
		{"GET /account/email", access.AccountSelf, s.emailForm},
		{"POST /account/email", access.AccountSelf, s.emailChange},
		{"GET /email/{token}", access.Public, s.emailConfirmForm},
		{"POST /email/{token}", access.Public, s.emailConfirm},
		{"GET /account/password", access.PasswordChange, s.passwordForm},
		{"POST /account/password", access.PasswordChange, s.passwordChange},

		// Second factors (CP-4.1, MTL-3.1.2); MFAEnrol includes the
		// restricted mode of an account that must enrol first (CP-12).
		{"GET /account/mfa/setup", access.MFAEnrol, s.mfaSetup},
		{"POST /account/mfa/totp/start", access.MFAEnrol, s.totpStart},
		{"POST /account/mfa/totp/confirm", access.MFAEnrol, s.totpConfirm},
		{"POST /account/mfa/totp/remove", access.AccountSelf, s.totpRemove},
		{"GET /account/recovery-codes/new", access.AccountSelf, s.recoveryOffer},
		{"POST /account/recovery-codes", access.AccountSelf, s.regenerateRecovery},
	}
	if s.notices != nil {
		rs = append(rs,
			route{"GET /account/notices", access.AccountSelf, s.noticesPage},
			route{"POST /account/notices/{id}/read", access.AccountSelf, s.markNoticeRead},
		)
	}
	if s.passkeys != nil {
		rs = append(rs,
			route{"POST /login/passkey/begin", access.Public, s.passkeyLoginBegin},
			route{"POST /login/passkey/finish", access.Public, s.passkeyLoginFinish},
			route{"POST /login/mfa/passkey/begin", access.SignInSecondFactor, s.passkeyMFABegin},
			route{"POST /login/mfa/passkey/finish", access.SignInSecondFactor, s.passkeyMFAFinish},
			route{"POST /account/passkeys/begin", access.MFAEnrol, s.passkeyRegisterBegin},
			route{"POST /account/passkeys/finish", access.MFAEnrol, s.passkeyRegisterFinish},
			route{"POST /account/passkeys/{id}/rename", access.AccountSelf, s.passkeyRename},
			route{"POST /account/passkeys/{id}/remove", access.AccountSelf, s.passkeyRemove},
		)
	}
	rs = append(rs, s.supportRoutes()...)
	rs = append(rs, s.adminRoutes()...)
	rs = append(rs, s.approvalRoutes()...)
	rs = append(rs, s.auditorRoutes()...)
	rs = append(rs, s.alertRoutes()...)
	rs = append(rs, s.incidentRoutes()...)
	rs = append(rs, s.incidentNoticeRoutes()...)
	rs = append(rs, s.incidentRegulatorRoutes()...)
	rs = append(rs, s.dashboardRoutes()...)
	rs = append(rs, s.reportRoutes()...)
	rs = append(rs, s.registerRoutes()...)
	rs = append(rs, s.incidentPlanRoutes()...)
	rs = append(rs, s.findingRoutes()...)
	rs = append(rs, s.vendorRoutes()...)
	rs = append(rs, s.trainingRoutes()...)
	rs = append(rs, s.policyDocRoutes()...)
	rs = append(rs, s.governanceRoutes()...)
	rs = append(rs, s.complianceRoutes()...)
	rs = append(rs, s.tokenRoutes()...)
	rs = append(rs, s.privacyRoutes()...)
	rs = append(rs, s.apiRoutes()...)
	rs = append(rs, s.evidenceKeyRoutes()...)
	return rs
}

// wrap turns a route into an http.Handler: it records the route pattern for
// logs and metrics, checks the permission and renders any returned error.
func (s *Server) wrap(rt route) http.Handler {
	staff := staffRoute(rt.perm) // decided once per route, not per request
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.pattern = rt.pattern
		}
		// Enforces CP-4.2: deny by default. A route whose permission the
		// caller lacks sends them to sign in or to the step they owe, or
		// answers 404, so its existence is not confirmed.
		p := access.PrincipalFrom(r.Context())
		if !access.Allowed(p, rt.perm) {
			s.metrics.deny(rt.pattern, "permission")
			s.denied(w, r, rt.perm)
			return
		}
		// Enforces CP-6.1, CP-6.3: staff pages answer only requests that
		// start on Portico itself (Fetch Metadata). A link or form on
		// another site, navigations included, cannot make a staff
		// member's browser open them and leave events such as a customer
		// view in their name. Browsers that send no Sec-Fetch-Site are
		// left to the cross-origin check of state-changing requests.
		if staff && !p.ViaToken() && crossSite(r) {
			s.metrics.deny(rt.pattern, "cross-site")
			s.renderError(w, r, errStaffCrossSite)
			return
		}
		// Enforces CP-11.1: an account under restriction of processing is
		// read-only, bar its security and its data rights.
		if p.Restricted && !restrictedAllows(rt) {
			s.metrics.deny(rt.pattern, "restricted")
			s.renderError(w, r, errRestricted)
			return
		}
		// Enforces CP-6.3, MTL-3.2.2: sensitive actions (reveal, role
		// change, policy edit, key rotation, audit export) need a fresh
		// re-authentication, whatever the handler does.
		if access.Sensitive(rt.perm) && !p.Fresh(s.db.Now(), s.profile.Session.StepUpWindow.Duration) {
			s.metrics.deny(rt.pattern, "step-up")
			s.stepUp(w, r)
			return
		}
		if err := rt.handler(w, r); err != nil {
			s.renderError(w, r, err)
		}
	})
}

// errStaffCrossSite answers a staff page opened from another site.
var errStaffCrossSite = apperr.New(apperr.Forbidden,
	"This staff page was opened from a link on another site, so Portico did not show it. Open it from Portico's own menus, or type its address.")

// staffRoute reports whether a route serves staff only: its permission is
// one that a staff role holds in the matrix and a customer does not
// (self-service permissions are nobody's in the matrix: everyone signed in
// has them).
func staffRoute(perm access.Permission) bool {
	if access.Has(access.RoleCustomer, perm) {
		return false
	}
	for _, r := range access.Roles() {
		if r.IsStaff() && access.Has(r, perm) {
			return true
		}
	}
	return false
}

// crossSite reports whether the browser says the request started on
// another site (or a sibling subdomain, which may be someone else's).
func crossSite(r *http.Request) bool {
	v := r.Header.Get("Sec-Fetch-Site")
	return v == "cross-site" || v == "same-site"
}
