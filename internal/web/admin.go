package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/support"
	"github.com/portico/portico/internal/thirdparty"
)

// adminRoutes are the administration of accounts and roles (CP-4.2,
// MTL-1.2, CP-12). Every action is checked again in internal/identity.
func (s *Server) adminRoutes() []route {
	rs := []route{
		{"GET /admin", access.UserRead, s.adminHome},
		{"GET /admin/users", access.UserRead, s.adminUsers},
		{"GET /admin/users/{id}", access.UserRead, s.adminUser},
		// Staff invitations (CP-4.2, CP-4.3): the page lists the pending
		// ones; inviting needs a fresh step-up.
		{"GET /admin/users/invite", access.UserRead, s.invitePage},
		{"POST /admin/users/invite", access.UserInvite, s.invite},
		{"POST /admin/users/{id}/revoke-invitation", access.UserManage, s.revokeInvitation},
		{"POST /admin/users/{id}/disable", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/enable", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/unlock", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/end-sessions", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/require-password-change", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/training", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/contract", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/restrict", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/unrestrict", access.UserManage, s.adminAction},
		{"POST /admin/users/{id}/role", access.RoleGrant, s.adminRole},
		{"GET /admin/roles", access.UserRead, s.adminRoles},
		{"GET /admin/access", access.MatrixRead, s.adminMatrix},
	}
	if s.support != nil {
		// The reveal is the support desk's grant, for any account's
		// address (MTL-3.2.2).
		rs = append(rs, route{"POST /admin/users/{id}/reveal", access.UserReveal, s.adminReveal})
	}
	return rs
}

// adminLinks says which administration pages the principal may open.
type adminLinks struct {
	Users, Invitations, Roles, Matrix, Audit, Policy, Outbox, Keys, Privacy, Alerts, Dashboard, Reports, Incidents, Governance bool
}

func linksFor(p access.Principal) adminLinks {
	return adminLinks{
		Users: access.Allowed(p, access.UserRead), Invitations: access.Allowed(p, access.UserRead), Roles: access.Allowed(p, access.UserRead),
		Matrix: access.Allowed(p, access.MatrixRead), Audit: access.Allowed(p, access.AuditRead),
		Policy: access.Allowed(p, access.PolicyRead), Outbox: access.Allowed(p, access.OutboxRead),
		Keys: access.Allowed(p, access.KeysRotate), Privacy: access.Allowed(p, access.PrivacyRequests),
		Alerts: access.Allowed(p, access.IncidentManage), Dashboard: access.Allowed(p, access.IncidentManage),
		Reports: access.Allowed(p, access.IncidentManage), Incidents: access.Allowed(p, access.IncidentRead),
		Governance: access.Allowed(p, access.GovernanceRead),
	}
}

type adminHomePage struct {
	Page
	Links adminLinks
}

func (s *Server) adminHome(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "admin", adminHomePage{Page: s.page(w, r, "Administration"), Links: linksFor(access.PrincipalFrom(r.Context()))})
}

// userRow is an account in the admin list.
type userRow struct {
	identity.AccountSummary
	TrainingDue time.Time
	Locked      bool
}

type adminUsersPage struct {
	Page
	Users      []userRow
	Total      int
	Query      identity.AccountQuery
	Roles      []access.Role
	Statuses   []string
	Prev, Next string
	From, To   int
}

const adminPageSize = 50

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) error {
	p := access.PrincipalFrom(r.Context())
	v := r.URL.Query()
	offset, _ := strconv.Atoi(v.Get("offset"))
	q := identity.AccountQuery{Email: v.Get("email"), Role: access.Role(v.Get("role")), Status: v.Get("status"), Limit: adminPageSize, Offset: max(offset, 0)}
	page := adminUsersPage{Page: s.page(w, r, "Accounts"), Query: q, Roles: access.Roles(),
		Statuses: []string{identity.StatusActive, identity.StatusDisabled, identity.StatusUnverified, identity.StatusInvited}}
	list, total, err := s.identity.SearchAccounts(r.Context(), p, q)
	if err != nil {
		if msg := formError(err); msg != "" {
			page.Error = msg
			return s.renderStatus(w, formStatus(err), "admin_users", page)
		}
		return err
	}
	now := s.db.Now()
	for _, a := range list {
		page.Users = append(page.Users, userRow{AccountSummary: a, TrainingDue: s.identity.TrainingDue(a.Account), Locked: now.Before(a.LockedUntil)})
	}
	page.Total = total
	page.From, page.To = q.Offset+1, q.Offset+len(list)
	link := func(off int) string {
		u := url.Values{"email": {q.Email}, "role": {string(q.Role)}, "status": {q.Status}, "offset": {strconv.Itoa(off)}}
		return "/admin/users?" + u.Encode()
	}
	if q.Offset > 0 {
		page.Prev = link(max(q.Offset-adminPageSize, 0))
	}
	if q.Offset+len(list) < total {
		page.Next = link(q.Offset + adminPageSize)
	}
	return s.render(w, "admin_users", page)
}

type adminUserPage struct {
	Page
	User identity.AccountSummary
	// Email is the address in clear while the viewer's reveal grant
	// lasts (until EmailUntil), "" otherwise.
	Email       string
	EmailUntil  time.Time
	CanReveal   bool
	Grant       time.Duration // how long a reveal lasts
	TrainingDue time.Time
	Overdue     bool
	Locked      bool
	Self        bool
	CanManage   bool
	CanRole     bool
	Roles       []access.Role
	Today       string
	Vendors     []thirdparty.Person // the vendors the account works for (MTL-1.2)

	// TrainingNote is the note kept with training recorded by hand.
	TrainingNote string
}

func (s *Server) adminUser(w http.ResponseWriter, r *http.Request) error {
	return s.renderAdminUser(w, r, http.StatusOK, "")
}

func (s *Server) renderAdminUser(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	p := access.PrincipalFrom(r.Context())
	u, err := s.identity.AdminAccount(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	now := s.db.Now()
	page := adminUserPage{Page: s.page(w, r, "Account"), User: u, TrainingDue: s.identity.TrainingDue(u.Account),
		Overdue: s.identity.TrainingOverdue(u.Account), Locked: now.Before(u.LockedUntil), Self: u.ID == p.AccountID,
		CanManage: access.Allowed(p, access.UserManage), CanRole: access.Allowed(p, access.RoleGrant),
		Roles: access.Roles(), Today: now.UTC().Format("2006-01-02"),
		CanReveal: s.support != nil && access.Allowed(p, access.UserReveal) && u.ID != p.AccountID,
		Grant:     s.profile.Access.RevealGrant.Duration}
	if u.Role.IsStaff() {
		if page.TrainingNote, err = s.identity.TrainingNote(r.Context(), u.ID); err != nil {
			return err
		}
	}
	if s.support != nil {
		clear, until, err := s.support.RevealedFor(r.Context(), p, u.ID)
		if err != nil {
			return err
		}
		page.Email, page.EmailUntil = clear[support.FieldEmail], until[support.FieldEmail]
	}
	if s.vendors != nil {
		if page.Vendors, err = s.vendors.VendorsOf(r.Context(), u.ID); err != nil {
			return err
		}
	}
	page.Error = errMsg
	return s.renderStatus(w, status, "admin_user", page)
}

// adminReveal unmasks an account's email address for the administrator,
// with a reason; the route needs a fresh step-up (UserReveal is
// sensitive) and internal/support checks it again.
func (s *Server) adminReveal(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.support.RevealAccountEmail(r.Context(), access.PrincipalFrom(r.Context()), id, r.PostForm.Get("reason")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderAdminUser(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done=email-revealed", http.StatusSeeOther)
	return nil
}

// adminAction runs one of the account actions named by the route's last
// path segment.
func (s *Server) adminAction(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	id := r.PathValue("id")
	var err error
	done := "account-updated"
	action := r.URL.Path[len("/admin/users/"+id+"/"):]
	switch action {
	case "disable", "enable", "unlock", "end-sessions":
		var req string
		if req, err = s.accountAction(ctx, p, id, action); req != "" {
			done = "disable-requested"
		}
	case "require-password-change":
		err = s.identity.AdminRequirePasswordChange(ctx, p, id)
	case "training":
		var at time.Time
		if at, err = parseDate(r.PostForm.Get("date")); err == nil {
			// Training on a given day counts from the end of it, or now
			// if that is earlier.
			if at = at.Add(24*time.Hour - time.Second); at.After(s.db.Now()) && at.Sub(s.db.Now()) < 24*time.Hour {
				at = s.db.Now()
			}
			err = s.identity.RecordTrainingWithNote(ctx, p, id, at, r.PostForm.Get("note"))
		}
	case "restrict":
		err = s.identity.SetRestricted(ctx, p, id, true, r.PostForm.Get("reason"))
	case "unrestrict":
		err = s.identity.SetRestricted(ctx, p, id, false, "")
	case "contract":
		var until time.Time
		if d := r.PostForm.Get("until"); d != "" {
			until, err = parseDate(d)
		}
		if err == nil {
			err = s.identity.SetContractor(ctx, p, id, until)
		}
	default:
		return errNotFound
	}
	if err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderAdminUser(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done="+done, http.StatusSeeOther)
	return nil
}

// accountAction runs one of the account actions that the admin pages and
// the API share; the identity service checks the actor again. Disabling
// an administrator files a request for a second administrator, whose ID
// it returns.
func (s *Server) accountAction(ctx context.Context, p access.Principal, id, action string) (string, error) {
	switch action {
	case "disable":
		return s.identity.AdminSetDisabled(ctx, p, id, true)
	case "enable":
		return s.identity.AdminSetDisabled(ctx, p, id, false)
	case "unlock":
		return "", s.identity.Unlock(ctx, p, id)
	case "end-sessions":
		_, err := s.identity.EndAllSessions(ctx, p, id)
		return "", err
	}
	return "", errNotFound
}

func parseDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, apperr.New(apperr.Invalid, "Give a date as YYYY-MM-DD.")
	}
	return t, nil
}

func (s *Server) adminRole(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	id := r.PathValue("id")
	role, err := access.ParseRole(r.PostForm.Get("role"))
	if err != nil {
		return s.renderAdminUser(w, r, http.StatusUnprocessableEntity, "Choose one of the roles.")
	}
	req, err := s.identity.ChangeRole(r.Context(), p, id, role)
	if err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderAdminUser(w, r, formStatus(err), msg)
		}
		return err
	}
	done := "role-changed"
	if req != "" {
		done = "role-requested"
	}
	http.Redirect(w, r, "/admin/users/"+id+"?done="+done, http.StatusSeeOther)
	return nil
}

type adminRolesPage struct {
	Page
	Counts  []roleCount
	Waiting int  // four-eyes requests waiting
	Matrix  bool // the viewer may open the permission matrix
}

type roleCount struct {
	Role  access.Role
	Count int
}

func (s *Server) adminRoles(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	reqs, err := s.identity.Approvals(ctx, p)
	if err != nil {
		return err
	}
	page := adminRolesPage{Page: s.page(w, r, "Roles"), Waiting: len(reqs), Matrix: access.Allowed(p, access.MatrixRead)}
	for _, role := range access.Roles() {
		_, n, err := s.identity.SearchAccounts(ctx, p, identity.AccountQuery{Role: role, Limit: 1})
		if err != nil {
			return err
		}
		page.Counts = append(page.Counts, roleCount{Role: role, Count: n})
	}
	return s.render(w, "admin_roles", page)
}

// matrixRow is one permission across the roles.
type matrixRow struct {
	Perm        access.Permission
	Description string
	Sensitive   bool
	Roles       []bool
}

type adminMatrixPage struct {
	Page
	Roles []access.Role
	Rows  []matrixRow
}

func (s *Server) adminMatrix(w http.ResponseWriter, r *http.Request) error {
	page := adminMatrixPage{Page: s.page(w, r, "Permission matrix"), Roles: access.Roles()}
	for _, perm := range access.Permissions() {
		row := matrixRow{Perm: perm, Description: access.Describe(perm), Sensitive: access.Sensitive(perm)}
		for _, role := range page.Roles {
			row.Roles = append(row.Roles, access.Has(role, perm))
		}
		page.Rows = append(page.Rows, row)
	}
	return s.render(w, "admin_matrix", page)
}
