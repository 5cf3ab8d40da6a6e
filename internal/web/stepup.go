package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/session"
)

// Step-up (CP-6.3, MTL-3.2.2): sensitive actions need a password typed
// within the profile's step-up window. When it is older, the request is
// not lost: a page is simply opened again after the password, and a form
// is held on the server (session.Hold), bound to the session, used once and
// for ten minutes, and carried out as soon as the password is confirmed.

// stepUp sends a session that has not re-authenticated recently to do so.
// A GET comes back to its page; a POST is held and completed after the
// password.
func (s *Server) stepUp(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, "/account/reauth?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	sess, ok := session.FromContext(r.Context())
	if !ok {
		s.renderError(w, r, errSignInFirst)
		return
	}
	if err := parseForm(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	form := url.Values{}
	for k, v := range r.PostForm {
		if k != CSRFField {
			form[k] = v
		}
	}
	id, err := s.sessions.Hold(r.Context(), sess, r.URL.RequestURI(), form)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/reauth?action="+url.QueryEscape(id), http.StatusSeeOther)
}

// fresh reports whether the session re-authenticated within the profile's
// step-up window; if not, it starts the step-up (stepUp; a GET comes back
// to page) and the caller stops.
//
// Enforces CP-6.3, MTL-3.2.2: changing factors or credentials needs a
// fresh re-authentication.
func (s *Server) fresh(w http.ResponseWriter, r *http.Request, page string) bool {
	if s.freshSession(r) {
		return true
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, "/account/reauth?next="+url.QueryEscape(page), http.StatusSeeOther)
		return false
	}
	s.stepUp(w, r)
	return false
}

// reauthPage asks for the password again before a sensitive change, and
// says which.
type reauthPage struct {
	Page
	Next    string // where "Cancel" and a plain confirmation go
	Action  string // the held action's ID, if any
	Purpose string // what the password is for, in words: "to reveal this customer's details"
}

func (s *Server) reauthForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := reauthPage{Page: s.page(w, r, "Confirm it is you"), Next: safeNext(q.Get("next"), "/account/security")}
	if id := q.Get("action"); id != "" {
		sess, _ := session.FromContext(r.Context())
		held, err := s.sessions.Held(r.Context(), sess, id)
		if err != nil {
			return err
		}
		p.Action, p.Purpose, p.Next = id, s.purposeOf(held.Path), s.pageOf(pathOnly(held.Path))
	}
	return s.render(w, "reauth", p)
}

func (s *Server) reauth(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	next := safeNext(r.PostForm.Get("next"), "/account/security")
	id := r.PostForm.Get("action")
	sess, _ := session.FromContext(ctx)
	if err := s.identity.Reauthenticate(ctx, sess, r.PostForm.Get("password"), clientIP(r), r.UserAgent()); err != nil {
		if msg := formError(err); msg != "" {
			p := reauthPage{Page: s.page(w, r, "Confirm it is you"), Next: next}
			if held, err := s.sessions.Held(ctx, sess, id); err == nil {
				p.Action, p.Purpose, p.Next = id, s.purposeOf(held.Path), s.pageOf(pathOnly(held.Path))
			}
			p.Error = msg
			return s.renderStatus(w, formStatus(err), "reauth", p)
		}
		return err
	}
	if id == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	held, err := s.sessions.Release(ctx, sess, id)
	if errors.Is(err, session.ErrNoPending) {
		http.Redirect(w, r, next+flashJoin(next)+"done=stepup-lapsed", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	return s.replay(w, r, held)
}

// replay carries out a held action as the request it was, through
// authentication and the route's own checks (permission, restriction,
// step-up, which now passes): the session is read again, fresh, from the
// database. The cross-origin check passed when the action was first sent,
// and again for the confirmation that releases it.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, held session.Pending) error {
	u, err := url.Parse(held.Path)
	if err != nil || !strings.HasPrefix(u.Path, "/") || u.Host != "" {
		return apperr.New(apperr.BadRequest, "The waiting action could not be read.")
	}
	body := held.Form.Encode()
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodPost
	r2.URL = u
	r2.RequestURI = u.RequestURI()
	r2.Body = io.NopCloser(strings.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r2.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r2.Form, r2.PostForm, r2.MultipartForm = nil, nil, nil
	s.authenticate(http.HandlerFunc(s.dispatch)).ServeHTTP(w, r2)
	return nil
}

// stepUpPurposes say, per route, what confirming the password is for.
var stepUpPurposes = map[string]string{
	"POST /desk/customers/{id}/reveal":   "to reveal this customer's details",
	"POST /desk/customers/{id}/rectify":  "to correct this customer's details",
	"POST /admin/users/{id}/role":        "to change this account's role",
	"POST /admin/users/{id}/reveal":      "to reveal this account's email address",
	"POST /admin/users/invite":           "to invite a member of staff",
	"POST /admin/approvals/{id}/approve": "to approve this request",
	"POST /admin/approvals/{id}/reject":  "to reject this request",
	"POST /admin/audit/export":           "to export the audit trail",
	"POST /admin/policy":                 "to change the security policy",
	"POST /admin/privacy/notices":        "to publish a privacy notice",
	"POST /admin/keys/rotate":            "to rotate the master key",
	"POST /account/data/export":          "to prepare a copy of your data",
	"POST /account/data/erase":           "to delete your account",
	"POST /account/tokens":               "to create an API token",
	"POST /account/email":                "to change your email address",
	"POST /account/mfa/totp/start":       "to set up an authenticator app",
	"POST /account/mfa/totp/confirm":     "to set up an authenticator app",
	"POST /account/mfa/totp/remove":      "to remove your authenticator app",
	"POST /account/recovery-codes":       "to make new recovery codes",
	"POST /account/passkeys/{id}/remove": "to remove a passkey",
	"POST /account/passkeys/{id}/rename": "to rename a passkey",
}

// purposeOf says what a held action to path is, for the confirmation page.
func (s *Server) purposeOf(path string) string {
	probe, err := http.NewRequest(http.MethodPost, path, nil)
	if err == nil {
		if _, pattern := s.mux.Handler(probe); stepUpPurposes[pattern] != "" {
			return stepUpPurposes[pattern]
		}
	}
	return "to finish what you started"
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// flashJoin is the separator before a query parameter added to next.
func flashJoin(next string) string {
	if strings.Contains(next, "?") {
		return "&"
	}
	return "?"
}
