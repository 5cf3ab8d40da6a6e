package web

import (
	"net/http"

	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// emailCodePage asks for the code emailed for a challenged sign-in of an
// account without a second factor (identity.StepEmailCode).
type emailCodePage struct{ Page }

// emailCodeVerify checks the emailed code (form field "code"). A sign-in
// that ran out of tries or time is over: its cookie goes, and the sign-in
// form says why.
func (s *Server) emailCodeVerify(w http.ResponseWriter, r *http.Request) error {
	sess, _ := session.FromContext(r.Context())
	res, err := s.identity.VerifyEmailCode(r.Context(), sess, r.PostForm.Get("code"), clientIP(r), r.UserAgent())
	if err != nil {
		return s.emailCodeError(w, r, err)
	}
	s.startSession(w, r, res, "")
	return nil
}

// emailCodeResend mails a new code for the sign-in.
func (s *Server) emailCodeResend(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	sess, _ := session.FromContext(r.Context())
	if err := s.identity.ResendEmailCode(r.Context(), sess, clientIP(r), r.UserAgent()); err != nil {
		return s.emailCodeError(w, r, err)
	}
	http.Redirect(w, r, "/login/mfa?done=code-sent", http.StatusSeeOther)
	return nil
}

// emailCodeError shows an error of the code step on its page, or, when the
// sign-in has ended, on the sign-in form.
func (s *Server) emailCodeError(w http.ResponseWriter, r *http.Request, err error) error {
	msg := formError(err)
	if msg == "" {
		return err
	}
	if err == identity.ErrEmailCodeEnded {
		session.ClearCookie(w)
		p := loginPage{Page: s.page(w, r, "Sign in"), Passkeys: s.passkeys != nil}
		p.Error = msg
		return s.renderStatus(w, formStatus(err), "login", p)
	}
	p := emailCodePage{Page: s.page(w, r, "Enter the code we emailed you")}
	p.Error = msg
	return s.renderStatus(w, formStatus(err), "login_email_code", p)
}
