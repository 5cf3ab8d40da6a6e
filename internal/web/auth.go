package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// authenticate loads the request's session, if any, and decides its
// principal: who is asking and how far their sign-in has got. Every request
// is checked afresh (CP-6.3, zero trust): the session must be valid and
// unexpired, and its account active with the role the session began with.
// A request from loopback or an internal address gets exactly the same
// checks.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p := access.Principal{}
		if tok := session.TokenFrom(r); tok != "" {
			sess, err := s.sessions.Authenticate(ctx, tok)
			if err == nil {
				var acct identity.Account
				var step identity.Step
				if acct, step, err = s.identity.Stage(ctx, sess); err == nil {
					p = access.Principal{AccountID: sess.AccountID, Role: acct.Role, SessionID: sess.ID, Stage: access.Stage(step)}
					ctx = session.WithSession(ctx, sess)
					ctx = withAccount(ctx, acct)
					ctx = audit.WithActor(ctx, "account:"+sess.AccountID)
				}
			}
			if err != nil {
				// An unknown, ended or expired session: drop the cookie
				// so the browser stops sending it.
				expireSessionCookie(w)
			}
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(ctx, p)))
	})
}

type accountKey struct{}

func withAccount(ctx context.Context, a identity.Account) context.Context {
	return context.WithValue(ctx, accountKey{}, a)
}

// accountFrom returns the signed-in account of the request.
func accountFrom(ctx context.Context) identity.Account {
	a, _ := ctx.Value(accountKey{}).(identity.Account)
	return a
}

// stagePage is where a session in each restricted stage is sent.
var stagePage = map[access.Stage]string{
	access.StageSecondFactor:   "/login/mfa",
	access.StageEnrol:          "/account/mfa/setup",
	access.StageChangePassword: "/account/password",
}

// denied answers a request whose principal lacks the route's permission.
// Anonymous visitors of a page that needs a sign-in are sent to sign in
// (and back afterwards); a session that owes a step is sent to it; anyone
// else gets 404, so the route's existence is not confirmed.
func (s *Server) denied(w http.ResponseWriter, r *http.Request, perm access.Permission) {
	p := access.PrincipalFrom(r.Context())
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case !p.SignedIn() && perm != access.SignInSecondFactor && safe:
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	case p.SignedIn() && stagePage[p.Stage] != "" && safe:
		http.Redirect(w, r, stagePage[p.Stage], http.StatusSeeOther)
	case p.SignedIn() && p.Stage == access.StageDone && perm == access.SignInSecondFactor && safe:
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	case !p.SignedIn() && !safe:
		s.renderError(w, r, errSignInFirst)
	default:
		s.renderError(w, r, errNotFound)
	}
}

// safeNext returns a local path to continue to after signing in, or
// fallback. Only same-site paths are accepted (no open redirect).
func safeNext(next, fallback string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return fallback
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return fallback
	}
	return u.RequestURI()
}

// expireSessionCookie tells the browser to drop a session cookie that no
// longer works, without Clear-Site-Data (which logout sends): the visitor
// keeps their other state, such as the form token.
func expireSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: session.CookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}
