package web

import (
	"encoding/json"
	"net/http"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// loginPage is the sign-in form.
type loginPage struct {
	Page
	Email    string
	Next     string
	Passkeys bool // passwordless sign-in is offered
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) error {
	if access.PrincipalFrom(r.Context()).Stage == access.StageDone {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil
	}
	return s.render(w, "login", loginPage{Page: s.page(w, r, "Sign in"), Next: safeNext(r.URL.Query().Get("next"), ""), Passkeys: s.passkeys != nil})
}

// login is the password step. A failure renders the form again with
// status 200 and one generic message (a form client needs no 401); the
// step's success answers 303 See Other to what comes next.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	next := safeNext(f.Get("next"), "")
	res, err := s.identity.Login(r.Context(), identity.Credentials{
		Email: f.Get("email"), Password: f.Get("password"), IP: clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		if msg := formError(err); msg != "" {
			p := loginPage{Page: s.page(w, r, "Sign in"), Email: f.Get("email"), Next: next, Passkeys: s.passkeys != nil}
			p.Error = msg
			return s.renderStatus(w, formStatus(err), "login", p)
		}
		return err
	}
	s.startSession(w, r, res, next)
	return nil
}

// startSession sets the session cookie of a sign-in step and sends the
// browser on to what is due next.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, res identity.SignIn, next string) {
	session.SetCookie(w, res.Token)
	http.Redirect(w, r, s.afterStep(res.Next, next), http.StatusSeeOther)
}

// afterStep is where a sign-in goes after a step.
func (s *Server) afterStep(step identity.Step, next string) string {
	switch step {
	case identity.StepSecondFactor, identity.StepEmailCode:
		return "/login/mfa"
	case identity.StepEnrol:
		return "/account/mfa/setup"
	case identity.StepChangePassword:
		return "/account/password"
	}
	return safeNext(next, "/account")
}

// formError returns the message to show on the form for an error the user
// can act on, or "" for an internal error (rendered as a fault).
func formError(err error) string {
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Unauthorized, apperr.RateLimited, apperr.Conflict, apperr.Forbidden, apperr.NotFound:
		return apperr.MessageOf(err)
	}
	return ""
}

// formStatus is the status of a form shown again with an error: 200 for a
// failed sign-in (generic, the form is the answer), 429 when throttled,
// 422 for input to correct.
func formStatus(err error) int {
	switch apperr.CodeOf(err) {
	case apperr.Unauthorized:
		return http.StatusOK
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Forbidden:
		return http.StatusForbidden
	}
	return http.StatusUnprocessableEntity
}

// mfaPage asks for the second factor.
type mfaPage struct {
	Page
	HasTOTP     bool
	HasPasskeys bool
}

func (s *Server) mfaForm(w http.ResponseWriter, r *http.Request) error {
	if access.PrincipalFrom(r.Context()).Stage == access.StageEmailCode {
		return s.render(w, "login_email_code", emailCodePage{Page: s.page(w, r, "Enter the code we emailed you")})
	}
	acct := accountFrom(r.Context())
	return s.render(w, "login_mfa", mfaPage{Page: s.page(w, r, "Second factor"), HasTOTP: acct.TOTPEnabled, HasPasskeys: acct.PasskeyCount > 0 && s.passkeys != nil})
}

// mfaVerify checks a TOTP or recovery code (form field "code").
func (s *Server) mfaVerify(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if access.PrincipalFrom(r.Context()).Stage == access.StageEmailCode {
		return s.emailCodeVerify(w, r)
	}
	sess, _ := session.FromContext(r.Context())
	res, err := s.identity.VerifySecondFactor(r.Context(), sess, r.PostForm.Get("code"), clientIP(r), r.UserAgent())
	if err != nil {
		if msg := formError(err); msg != "" {
			acct := accountFrom(r.Context())
			p := mfaPage{Page: s.page(w, r, "Second factor"), HasTOTP: acct.TOTPEnabled, HasPasskeys: acct.PasskeyCount > 0 && s.passkeys != nil}
			p.Error = msg
			return s.renderStatus(w, formStatus(err), "login_mfa", p)
		}
		return err
	}
	s.startSession(w, r, res, "")
	return nil
}

// logoutPage confirms signing out (GET never changes state).
type logoutPage struct{ Page }

func (s *Server) logoutForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "logout", logoutPage{Page: s.page(w, r, "Sign out")})
}

// logout ends the session server-side and tells the browser to forget
// everything of this site (Clear-Site-Data).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	sess, ok := session.FromContext(r.Context())
	if ok {
		if err := s.identity.Logout(r.Context(), sess); err != nil {
			return err
		}
	}
	session.ClearCookie(w)
	http.Redirect(w, r, "/login?done=signed-out", http.StatusSeeOther)
	return nil
}

// writeJSON answers a passkey ceremony step or an API request with v as
// JSON (never cached: securityHeaders sets no-store).
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
