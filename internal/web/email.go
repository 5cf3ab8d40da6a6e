package web

import "net/http"

// emailPage changes the account's email address (step-up required).
type emailPage struct {
	Page
	Email string
	Fresh bool
	Sent  bool
	New   string
}

func (s *Server) emailForm(w http.ResponseWriter, r *http.Request) error {
	email, err := s.identity.Email(r.Context(), accountFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	return s.render(w, "email", emailPage{Page: s.page(w, r, "Change your email address"), Email: email, Fresh: s.freshSession(r)})
}

// emailChange sends the confirmation link to the new address.
func (s *Server) emailChange(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if !s.fresh(w, r, "/account/email") {
		return nil
	}
	acct := accountFrom(r.Context())
	next := r.PostForm.Get("email")
	if err := s.identity.RequestEmailChange(r.Context(), acct.ID, next); err != nil {
		if msg := formError(err); msg != "" {
			email, eerr := s.identity.Email(r.Context(), acct.ID)
			if eerr != nil {
				return eerr
			}
			p := emailPage{Page: s.page(w, r, "Change your email address"), Email: email, Fresh: true, New: next}
			p.Error = msg
			return s.renderStatus(w, formStatus(err), "email", p)
		}
		return err
	}
	return s.render(w, "email", emailPage{Page: s.page(w, r, "Change your email address"), Sent: true})
}

// emailConfirmForm is the page an email-change link opens: a button, as
// GET changes nothing.
func (s *Server) emailConfirmForm(w http.ResponseWriter, r *http.Request) error {
	tok := r.PathValue("token")
	return s.render(w, "email_confirm", verifyPage{Page: s.page(w, r, "Confirm your new email address"), Token: tok, Valid: s.identity.EmailLinkValid(r.Context(), tok)})
}

func (s *Server) emailConfirm(w http.ResponseWriter, r *http.Request) error {
	tok := r.PathValue("token")
	if err := s.identity.ConfirmEmailChange(r.Context(), tok); err != nil {
		if msg := formError(err); msg != "" {
			p := verifyPage{Page: s.page(w, r, "Confirm your new email address"), Token: tok}
			p.Error = msg
			return s.renderStatus(w, http.StatusOK, "email_confirm", p)
		}
		return err
	}
	http.Redirect(w, r, "/account?done=email-changed", http.StatusSeeOther)
	return nil
}
