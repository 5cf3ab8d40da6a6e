package session

import (
	"context"
	"net/http"
)

// CookieName is the session cookie. The __Host- prefix makes browsers
// accept it only with Secure, Path=/ and no Domain, so a sibling subdomain
// can neither read nor overwrite it (no cookie tossing, no session
// fixation through another host).
const CookieName = "__Host-portico-session"

// SetCookie gives the browser its session token. The cookie lives until the
// browser session ends; the server's idle and absolute deadlines decide
// how long the token works. HttpOnly keeps it from scripts, and
// SameSite=Lax keeps it off cross-site subrequests and form posts while
// letting a link from an email open the portal signed in.
//
// Enforces CP-6.3 and CP-6.1: the token travels only over TLS, never to
// scripts, and not with cross-site POSTs.
func SetCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// ClearCookie removes the session cookie and asks the browser to drop the
// portal's cache, cookies and storage too, so that pages of the ended
// session cannot be brought back with the Back button on a shared computer.
// Call it on logout and whenever Authenticate refuses the cookie.
func ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
}

// TokenFrom returns the session token that the request carries, or "".
// It does not check it: Authenticate does.
func TokenFrom(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

type sessionKey struct{}

// WithSession returns a context that carries the request's authenticated
// session, for handlers and domain services below the middleware.
func WithSession(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// FromContext returns the session that ctx carries, if any.
func FromContext(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}
