package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/apperr"
)

// tokenRoutes are the staff's own personal access tokens (CP-6.3).
func (s *Server) tokenRoutes() []route {
	if s.tokens == nil {
		return nil
	}
	return []route{
		{"GET /account/tokens", access.TokenOwn, s.tokensPage},
		{"POST /account/tokens", access.TokenCreate, s.tokenCreate},
		{"POST /account/tokens/{id}/revoke", access.TokenOwn, s.tokenRevoke},
	}
}

// scopeChoice is a permission offered on the token form.
type scopeChoice struct {
	Perm        access.Permission
	Description string
	Checked     bool
}

type tokensPage struct {
	Page
	Tokens  []apitoken.Token
	Scopes  []scopeChoice
	MaxDays int
	Name    string
	Days    int
	Created string // the new token, shown once
	Now     time.Time
}

func (s *Server) tokensData(w http.ResponseWriter, r *http.Request) (tokensPage, error) {
	p := access.PrincipalFrom(r.Context())
	list, err := s.tokens.List(r.Context(), p.AccountID)
	if err != nil {
		return tokensPage{}, err
	}
	page := tokensPage{Page: s.page(w, r, "API tokens"), Tokens: list, Now: s.db.Now(),
		MaxDays: int(s.profile.Access.APITokenMaxLifetime.Duration / (24 * time.Hour)), Days: 30}
	page.Days = min(page.Days, page.MaxDays)
	for _, perm := range access.RolePermissions(p.Role) {
		if !access.Sensitive(perm) {
			page.Scopes = append(page.Scopes, scopeChoice{Perm: perm, Description: access.Describe(perm)})
		}
	}
	return page, nil
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request) error {
	page, err := s.tokensData(w, r)
	if err != nil {
		return err
	}
	return s.render(w, "tokens", page)
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	var scopes []access.Permission
	for _, v := range r.PostForm["scope"] {
		scopes = append(scopes, access.Permission(v))
	}
	days, _ := strconv.Atoi(r.PostForm.Get("days"))
	raw, _, err := s.tokens.Create(r.Context(), p, r.PostForm.Get("name"), scopes, time.Duration(days)*24*time.Hour)
	page, perr := s.tokensData(w, r)
	if perr != nil {
		return perr
	}
	if err != nil {
		if msg := formError(err); msg != "" {
			page.Error, page.Name, page.Days = msg, r.PostForm.Get("name"), days
			for i := range page.Scopes {
				for _, sc := range scopes {
					page.Scopes[i].Checked = page.Scopes[i].Checked || sc == page.Scopes[i].Perm
				}
			}
			return s.renderStatus(w, formStatus(err), "tokens", page)
		}
		return err
	}
	// Shown once, on this response only, which no cache keeps.
	page.Created = raw
	page.Flash = "Copy your token now: we store only a hash of it and cannot show it again."
	return s.render(w, "tokens", page)
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if err := s.tokens.Revoke(r.Context(), access.PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return errNotFound
		}
		return err
	}
	http.Redirect(w, r, "/account/tokens?done=token-revoked", http.StatusSeeOther)
	return nil
}
