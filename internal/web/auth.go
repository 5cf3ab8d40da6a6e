package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// authenticate loads the request's session or API token, if any, and
// decides its principal: who is asking, in which role and how far their
// sign-in has got. Every request is checked afresh (CP-6.3, zero trust):
// the session must be valid and unexpired, its account active with the role
// the session began with, and the request's context (network, country,
// browser) the one the session began in. A request from loopback or an
// internal address gets exactly the same checks.
//
// Under /api/ only a bearer token counts: a browser's session cookie does
// not reach the API, so that the API needs no CSRF defence.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.blocked) > 0 && inNetworks(s.blocked, clientIP(r)) {
			s.refuseBlocked(w, r)
			return
		}
		var p access.Principal
		var ctx context.Context
		switch {
		case isAPI(r):
			var ok bool
			if p, ctx, ok = s.authenticateToken(w, r); !ok {
				return
			}
		default:
			var err error
			if p, ctx, err = s.authenticateSession(w, r); err != nil {
				s.renderError(w, r, err)
				return
			}
			if kind := riskEnded(ctx); kind != "" {
				// The holder signs in again, told why.
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					http.Redirect(w, r, "/login?done=risk-"+kind+"&next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				} else {
					s.renderError(w, r, errSignInFirst)
				}
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(ctx, p)))
	})
}

// authenticateSession resolves the session cookie, if any. It returns an
// error only when the session could not be checked at all (the database is
// unreachable, say): the request fails and the cookie stays, so its holder
// is still signed in once the database is back.
func (s *Server) authenticateSession(w http.ResponseWriter, r *http.Request) (access.Principal, context.Context, error) {
	ctx := r.Context()
	tok := session.TokenFrom(r)
	if tok == "" {
		return access.Principal{}, ctx, nil
	}
	sess, err := s.sessions.Authenticate(ctx, tok)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		// Enforces MTL-1.1 (availability): a session that cannot be
		// checked is not accepted (the request fails closed), and not
		// thrown away either.
		return access.Principal{}, ctx, err
	}
	if err == nil {
		if kind, detail := contextChange(sess, r); kind != "" {
			// Enforces CP-6.3: the session's context changed: end it,
			// record the signal, and make its holder sign in again.
			if err := s.identity.EndForRisk(ctx, sess, kind, detail); err != nil {
				s.logger.Error("ending a session on a risk signal failed", "request_id", RequestID(ctx), "error", err.Error())
			}
			expireSessionCookie(w)
			return access.Principal{}, withRiskEnded(ctx, kind), nil
		}
	}
	if err == nil {
		var acct identity.Account
		var step identity.Step
		if acct, step, err = s.identity.Stage(ctx, sess); err == nil {
			ctx = session.WithSession(ctx, sess)
			ctx = withAccount(ctx, acct)
			ctx = audit.WithActor(ctx, "account:"+sess.AccountID)
			return access.Principal{AccountID: sess.AccountID, Role: acct.Role, SessionID: sess.ID,
				Stage: access.Stage(step), ReauthAt: sess.ReauthAt, Restricted: acct.Restricted()}, ctx, nil
		}
		if !errors.Is(err, identity.ErrSessionInvalid) {
			return access.Principal{}, ctx, err
		}
	}
	// An unknown, ended or expired session: drop the cookie so the
	// browser stops sending it.
	expireSessionCookie(w)
	return access.Principal{}, ctx, nil
}

type riskEndedKey struct{}

func withRiskEnded(ctx context.Context, kind string) context.Context {
	return context.WithValue(ctx, riskEndedKey{}, kind)
}

// riskEnded says whether this request's session was just ended on a risk
// signal, and which.
func riskEnded(ctx context.Context) string {
	k, _ := ctx.Value(riskEndedKey{}).(string)
	return k
}

// contextChange compares a request with the context its session began in.
// It returns the kind of risk signal and its coarse details, or "".
func contextChange(sess session.Session, r *http.Request) (string, map[string]string) {
	if !sess.SameUserAgent(r.UserAgent()) {
		return identity.RiskUserAgentChange, map[string]string{"from_device": sess.Device, "to_device": session.Device(r.UserAgent())}
	}
	if c := session.Country(clientIP(r)); c != sess.Country {
		return identity.RiskCountryChange, map[string]string{"from_country": orUnknown(sess.Country), "to_country": orUnknown(c)}
	}
	return "", nil
}

func orUnknown(c string) string {
	if c == "" {
		return "unknown"
	}
	return c
}

// authenticateToken resolves an API request's bearer token. A request
// without one goes on anonymous (and is refused by every route but the API
// description); a bad one is answered 401 here.
func (s *Server) authenticateToken(w http.ResponseWriter, r *http.Request) (access.Principal, context.Context, bool) {
	ctx := r.Context()
	h := r.Header.Get("Authorization")
	if h == "" || s.tokens == nil {
		return access.Principal{}, ctx, true
	}
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		s.renderError(w, r, errBadToken)
		return access.Principal{}, ctx, false
	}
	t, err := s.tokens.Authenticate(ctx, strings.TrimSpace(raw), clientIP(r))
	if err == nil {
		_, err = s.identity.TokenStage(ctx, t.AccountID, t.Role)
	}
	if err != nil {
		if code := apperr.CodeOf(err); code == apperr.Internal || code == apperr.Unavailable {
			// A fault (a full disk, say) is no verdict on the token.
			s.renderError(w, r, err)
		} else {
			s.renderError(w, r, errBadToken)
		}
		return access.Principal{}, ctx, false
	}
	ctx = audit.WithActor(ctx, "account:"+t.AccountID)
	return access.Principal{AccountID: t.AccountID, Role: t.Role, TokenID: t.ID, Scopes: t.Scopes, Stage: access.StageDone}, ctx, true
}

var errBadToken = apperr.New(apperr.Unauthorized, "The API token is missing, invalid, expired or revoked, or its holder may not use the API now.")

// isAPI reports whether the request is for the JSON API.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// refuseBlocked answers a request from a network that the profile blocks.
// A session that comes from one is ended and the request recorded as a
// risk signal; nothing but static files and health checks is served.
//
// Enforces CP-6.3: network origin never grants trust, and a blocked
// network withdraws it (re-authentication from it is refused too).
func (s *Server) refuseBlocked(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		s.mux.ServeHTTP(w, r)
		return
	}
	detail := map[string]string{"country": orUnknown(session.Country(clientIP(r))), "path": routeLabel(s, r)}
	var err error
	if tok := session.TokenFrom(r); tok != "" {
		if sess, aerr := s.sessions.Authenticate(ctx, tok); aerr == nil {
			err = s.identity.EndForRisk(ctx, sess, identity.RiskBlockedNetwork, detail)
		}
		expireSessionCookie(w)
	} else if r.Method == http.MethodPost {
		// Sign-in and sign-up attempts: recorded; page views are not,
		// so that a crawler cannot fill the table.
		err = s.identity.RecordRisk(ctx, identity.RiskBlockedNetwork, detail)
	}
	if err != nil {
		s.logger.Error("recording a blocked-network request failed", "request_id", RequestID(ctx), "error", err.Error())
	}
	s.renderError(w, r, errBlockedNetwork)
}

var errBlockedNetwork = apperr.New(apperr.Forbidden, "Access to this portal from your network is not allowed. If you think this is a mistake, contact support from another network.")

// routeLabel is the route pattern a request matches, for risk details
// (never the raw path, which may carry IDs or tokens).
func routeLabel(s *Server, r *http.Request) string {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return pattern
	}
	return "unmatched"
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
	access.StageEmailCode:      "/login/mfa",
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
	case isAPI(r) && !p.SignedIn():
		s.renderError(w, r, errBadToken)
	case isAPI(r):
		s.renderError(w, r, errNotFound)
	case p.Stage == access.StageTraining && access.Has(p.Role, perm):
		// Enforces CP-12: the role's pages are closed until training
		// is recorded; say so rather than pretend they do not exist.
		s.renderError(w, r, errTrainingOverdue)
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

// restrictedMay are the changes an account under restriction of
// processing may still make: its security, its sign-out and its data
// rights. Everything else that changes data is refused (CP-11.1).
var restrictedMay = map[string]bool{
	"POST /account/data/export": true, "POST /account/data/download": true, "POST /account/data/erase": true,
	"POST /account/data/erase/cancel": true, "POST /account/data/consent": true, "POST /account/privacy-notice": true,
	"POST /account/report": true, "POST /account/sessions/end-others": true, "POST /account/sessions/{id}/end": true,
	"POST /account/notices/{id}/read": true, "POST /account/reports/{id}/answer": true,
}

// restrictedAllows reports whether a restricted account may use a route.
func restrictedAllows(rt route) bool {
	switch rt.perm {
	case access.Public, access.SessionEnd, access.SignInSecondFactor, access.MFAEnrol, access.PasswordChange, access.AccountData:
		return true
	}
	method, _, _ := strings.Cut(rt.pattern, " ")
	return method == http.MethodGet || method == http.MethodHead || restrictedMay[rt.pattern] ||
		strings.HasPrefix(rt.pattern, "POST /account/passkeys/") || strings.HasPrefix(rt.pattern, "POST /account/mfa/") ||
		strings.HasPrefix(rt.pattern, "POST /account/recovery-codes")
}

var errRestricted = apperr.New(apperr.Forbidden, "Processing of your data is restricted, as you asked: your account is read-only. You can still download your data, ask for its deletion, and change your security settings. Contact support to lift the restriction.")

var errTrainingOverdue = apperr.New(apperr.Forbidden, "Your security-awareness training is overdue. Until you pass your training modules (at /training) or an administrator records it, this page is closed to you.")

// pageOf finds the page a form posted to path was on: the path itself or
// its nearest ancestor that answers GET (POST /admin/users/ID/role comes from
// /admin/users/ID), or /account. Pages send no Referer (Referrer-Policy:
// no-referrer), so the route tree is the guide.
func (s *Server) pageOf(path string) string {
	for p := path; strings.Count(p, "/") >= 1 && p != ""; p = p[:strings.LastIndex(p, "/")] {
		probe, err := http.NewRequest(http.MethodGet, p, nil)
		if err != nil {
			break
		}
		if _, pattern := s.mux.Handler(probe); pattern != "" && !strings.Contains(pattern, "{$}") {
			return p
		}
	}
	return "/account"
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
