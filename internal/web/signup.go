package web

import (
	"net/http"

	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// signupPage shows the password rules before the user types (CP-4.3).
type signupPage struct {
	Page
	Email, Name    string
	Rules          []string
	MFARequired    bool
	PrivacyVersion string
}

func (s *Server) signupPage(w http.ResponseWriter, r *http.Request) signupPage {
	return signupPage{
		Page:           s.page(w, r, "Create your account"),
		Rules:          s.identity.PasswordRules(),
		MFARequired:    s.identity.Profile().MFA.Mode == policy.MFARequired,
		PrivacyVersion: s.noticeVersion(r),
	}
}

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "signup", s.signupPage(w, r))
}

// signup creates the account and sends the confirmation link. Whether or
// not the address already had an account, the answer is the same page.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	err := s.identity.SignUp(r.Context(), identity.SignUpInput{
		Email: f.Get("email"), Name: f.Get("name"), Password: f.Get("password"),
		PrivacyVersion: f.Get("privacy"), CurrentPrivacyVersion: s.noticeVersion(r), IP: clientIP(r),
	})
	if err != nil {
		if msg := formError(err); msg != "" {
			p := s.signupPage(w, r)
			p.Email, p.Name = f.Get("email"), f.Get("name")
			p.formProblems(err, "name", "email", "password", "privacy")
			return s.renderStatus(w, formStatus(err), "signup", p)
		}
		return err
	}
	return s.render(w, "signup_sent", messagePage{Page: s.page(w, r, "Check your email")})
}

// messagePage is a page that only says something.
type messagePage struct{ Page }

// verifyPage is the page a confirmation link opens: a button, because a
// GET must not change state (and mail scanners follow links).
type verifyPage struct {
	Page
	Token string
	Valid bool
}

func (s *Server) verifyForm(w http.ResponseWriter, r *http.Request) error {
	tok := r.PathValue("token")
	return s.render(w, "verify", verifyPage{Page: s.page(w, r, "Confirm your email address"), Token: tok, Valid: s.identity.VerifyLinkValid(r.Context(), tok)})
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	tok := r.PathValue("token")
	accountID, _ := s.identity.VerifyLinkAccount(r.Context(), tok)
	pw := r.PostForm.Get("password")
	if err := s.identity.VerifyEmail(r.Context(), tok, pw, clientIP(r), r.UserAgent()); err != nil {
		if msg := formError(err); msg != "" {
			p := verifyPage{Page: s.page(w, r, "Confirm your email address"), Token: tok, Valid: s.identity.VerifyLinkValid(r.Context(), tok)}
			p.Error = msg
			return s.renderStatus(w, http.StatusOK, "verify", p)
		}
		return err
	}
	// The holder just proved the mailbox and the password: sign them in
	// (the second factor, or its enrolment, is still the next step). If
	// that fails for any reason, the sign-in page is the way on.
	if email, err := s.identity.Email(r.Context(), accountID); err == nil {
		res, err := s.identity.Login(r.Context(), identity.Credentials{Email: email, Password: pw, IP: clientIP(r), UserAgent: r.UserAgent()})
		if err == nil {
			session.SetCookie(w, res.Token)
			to := s.afterStep(res.Next, "/account")
			http.Redirect(w, r, to+flashJoin(to)+"done=verified-signed-in", http.StatusSeeOther)
			return nil
		}
	}
	http.Redirect(w, r, "/login?done=verified", http.StatusSeeOther)
	return nil
}

// resetRequestPage asks for the address to send a reset link to.
type resetRequestPage struct {
	Page
	Email string
	Sent  bool
}

func (s *Server) resetRequestForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "reset_request", resetRequestPage{Page: s.page(w, r, "Reset your password")})
}

// resetRequest always answers "if there is an account, we sent a link".
func (s *Server) resetRequest(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	email := r.PostForm.Get("email")
	if err := s.identity.RequestReset(r.Context(), email, clientIP(r)); err != nil {
		if msg := formError(err); msg != "" {
			p := resetRequestPage{Page: s.page(w, r, "Reset your password"), Email: email}
			p.Error = msg
			return s.renderStatus(w, formStatus(err), "reset_request", p)
		}
		return err
	}
	return s.render(w, "reset_request", resetRequestPage{Page: s.page(w, r, "Reset your password"), Sent: true})
}

// resetPage is the form a reset link opens.
type resetPage struct {
	Page
	Token string
	Valid bool
	Rules []string
}

func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) error {
	tok := r.PathValue("token")
	return s.render(w, "reset", resetPage{Page: s.page(w, r, "Choose a new password"), Token: tok,
		Valid: s.identity.ResetLinkValid(r.Context(), tok), Rules: s.identity.PasswordRules()})
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	tok := r.PathValue("token")
	f := r.PostForm
	if f.Get("password") != f.Get("confirm") {
		p := resetPage{Page: s.page(w, r, "Choose a new password"), Token: tok, Valid: true, Rules: s.identity.PasswordRules()}
		p.fieldProblem("confirm", "The two passwords differ. Type the same new password twice.")
		return s.renderStatus(w, http.StatusUnprocessableEntity, "reset", p)
	}
	if err := s.identity.ResetPassword(r.Context(), tok, f.Get("password")); err != nil {
		if msg := formError(err); msg != "" {
			p := resetPage{Page: s.page(w, r, "Choose a new password"), Token: tok, Valid: s.identity.ResetLinkValid(r.Context(), tok), Rules: s.identity.PasswordRules()}
			p.formProblems(err, "password")
			return s.renderStatus(w, formStatus(err), "reset", p)
		}
		return err
	}
	// Any session this browser had was ended by the reset.
	expireSessionCookie(w)
	http.Redirect(w, r, "/login?done=password-reset", http.StatusSeeOther)
	return nil
}

// noticeVersion is the privacy notice version in force: the latest one
// administrators published, or the built-in one.
func (s *Server) noticeVersion(r *http.Request) string {
	if s.rights != nil {
		return s.rights.CurrentVersion(r.Context())
	}
	return s.privacy
}
