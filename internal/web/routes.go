package web

import (
	"net/http"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
)

// handlerFunc is a handler that returns its error to the one renderer
// instead of writing error pages itself.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one line of the route table: a Go 1.22 pattern, the permission
// the route needs, and its handler.
type route struct {
	pattern string
	perm    access.Permission
	handler handlerFunc
}

// routes is the map of the site. Every route names its permission: there is
// no default (CP-4.2, CP-6.3), and TestEveryRouteNamesAPermission walks this
// table. State changes only happen on POST (CP-6.1).
func (s *Server) routes() []route {
	return []route{
		{"GET /{$}", access.Public, s.landing},
		{"GET /login", access.Public, s.loginForm},
		{"GET /signup", access.Public, s.signupForm},
		{"GET /security", access.Public, s.guidelines},
		{"GET /privacy", access.Public, s.privacyNotice},
		{"GET /static/{name}", access.Public, s.serveStatic},
		{"GET /healthz", access.Public, s.healthz},
		{"GET /readyz", access.Public, s.readyz},
	}
}

// wrap turns a route into an http.Handler: it records the route pattern for
// logs and metrics, checks the permission and renders any returned error.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.pattern = rt.pattern
		}
		// Enforces CP-4.2: deny by default. A route whose permission the
		// caller lacks answers 404, so its existence is not confirmed.
		if !access.Allowed(rt.perm) {
			s.renderError(w, r, apperr.New(apperr.NotFound, "Page not found."))
			return
		}
		if err := rt.handler(w, r); err != nil {
			s.renderError(w, r, err)
		}
	})
}
