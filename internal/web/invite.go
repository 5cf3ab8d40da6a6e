package web

import (
	"net/http"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/identity"
)

// Staff invitations: an administrator invites a member of staff by email
// with a staff role; the invitee opens the mailed link and chooses a
// password; then they sign in as everyone does (second factor first).
// internal/identity checks every step again.

// invitationRow is a pending invitation on the administrators' page.
type invitationRow struct {
	identity.Invitation
	Expired bool
}

type invitePage struct {
	Page
	Invitations []invitationRow
	CanInvite   bool
	CanRevoke   bool
	Roles       []access.Role // the staff roles an invitation may give
	Email       string
	Role        access.Role
	Lifetime    time.Duration
}

func (s *Server) invitePage(w http.ResponseWriter, r *http.Request) error {
	return s.renderInvitePage(w, r, http.StatusOK, "", "", "")
}

func (s *Server) renderInvitePage(w http.ResponseWriter, r *http.Request, status int, errMsg, email string, role access.Role) error {
	p := access.PrincipalFrom(r.Context())
	invs, err := s.identity.Invitations(r.Context(), p)
	if err != nil {
		return err
	}
	page := invitePage{Page: s.page(w, r, "Staff invitations"), CanInvite: access.Allowed(p, access.UserInvite),
		CanRevoke: access.Allowed(p, access.UserManage), Email: email, Role: role, Lifetime: identity.InviteLinkTTL}
	page.Error = errMsg
	for _, rl := range access.Roles() {
		if rl.IsStaff() && rl != access.RoleAdmin {
			page.Roles = append(page.Roles, rl)
		}
	}
	now := s.db.Now()
	for _, inv := range invs {
		page.Invitations = append(page.Invitations, invitationRow{Invitation: inv, Expired: inv.Expired(now)})
	}
	return s.renderStatus(w, status, "invite", page)
}

// invite sends an invitation. The route needs a fresh step-up
// (UserInvite is sensitive).
func (s *Server) invite(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	email, role := r.PostForm.Get("email"), access.Role(r.PostForm.Get("role"))
	if _, err := s.identity.Invite(r.Context(), access.PrincipalFrom(r.Context()), email, role); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderInvitePage(w, r, formStatus(err), msg, email, role)
		}
		return err
	}
	http.Redirect(w, r, "/admin/users/invite?done=invited", http.StatusSeeOther)
	return nil
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if err := s.identity.RevokeInvitation(r.Context(), access.PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderInvitePage(w, r, formStatus(err), msg, "", "")
		}
		return err
	}
	http.Redirect(w, r, "/admin/users/invite?done=invitation-revoked", http.StatusSeeOther)
	return nil
}

// acceptPage is the form an invitation link opens.
type acceptPage struct {
	Page
	Token string
	Valid bool
	Email string // the invitee's address: they hold the mail the link came in
	Role  access.Role
	Name  string
	Rules []string
}

func (s *Server) acceptData(w http.ResponseWriter, r *http.Request) acceptPage {
	tok := r.PathValue("token")
	inv, email, ok := s.identity.InvitationFor(r.Context(), tok)
	return acceptPage{Page: s.page(w, r, "Join Portico's staff"), Token: tok, Valid: ok, Email: email, Role: inv.Role,
		Rules: s.identity.PasswordRules()}
}

func (s *Server) inviteForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "invite_accept", s.acceptData(w, r))
}

func (s *Server) inviteAccept(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	if f.Get("password") != f.Get("confirm") {
		p := s.acceptData(w, r)
		p.Name, p.Error = f.Get("name"), "The two passwords differ. Type the same password twice."
		return s.renderStatus(w, http.StatusUnprocessableEntity, "invite_accept", p)
	}
	if _, err := s.identity.AcceptInvitation(r.Context(), r.PathValue("token"), f.Get("name"), f.Get("password")); err != nil {
		if msg := formError(err); msg != "" {
			p := s.acceptData(w, r)
			p.Name, p.Error = f.Get("name"), msg
			return s.renderStatus(w, formStatus(err), "invite_accept", p)
		}
		return err
	}
	http.Redirect(w, r, "/login?done=invitation-accepted", http.StatusSeeOther)
	return nil
}
