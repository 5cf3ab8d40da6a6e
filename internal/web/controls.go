package web

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of the web layer, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-6.1", Name: "web.csp-nonce",
			Description: "Every response carries a strict Content-Security-Policy with a per-request nonce, 'strict-dynamic', object-src 'none', base-uri 'none' and frame-ancestors 'none'; templates are html/template with no inline script or style.",
			Test:        "internal/web: TestCSPNonce"},
		{Clause: "CP-6.1", Name: "web.contextual-escaping",
			Description: "Pages are rendered only through html/template, which escapes every value for its context.",
			Test:        "internal/web: TestTemplatesEscape"},
		{Clause: "CP-6.1", Name: "web.cross-origin-protection",
			Description: "State-changing requests from another site are refused with 403 (Fetch Metadata and Origin through http.CrossOriginProtection); clients that send neither header must present a signed double-submit form token.",
			Test:        "internal/web: TestCrossOriginProtection"},
		{Clause: "CP-5.1", Name: "web.hsts",
			Description: "Strict-Transport-Security for one year with includeSubDomains on every response.",
			Test:        "internal/web: TestSecurityHeaders"},
		{Clause: "MTL-4.2.1", Name: "web.hsts",
			Description: "Strict-Transport-Security for one year with includeSubDomains on every response; cookies are __Host-, Secure, HttpOnly.",
			Test:        "internal/web: TestSecurityHeaders"},
		{Clause: "CP-4.2", Name: "web.route-permissions",
			Description: "Every route in the one route table names the permission it needs; anything but Public is denied until the caller holds it.",
			Test:        "internal/web: TestEveryRouteNamesAPermission"},
		{Clause: "CP-6.3", Name: "web.route-permissions",
			Description: "No route is trusted by default: the permission check runs on every request, whatever its network origin (X-Forwarded-For is not trusted).",
			Test:        "internal/web: TestEveryRouteNamesAPermission"},
		{Clause: "MTL-4.1.1", Name: "web.safe-errors",
			Description: "One error renderer shows a fixed message and the request ID, never err.Error() or a stack trace; bodies are bounded (413) and panics recovered.",
			Test:        "internal/web: TestErrorRendererHidesInternals"},
		{Clause: "MTL-1.1", Name: "web.readiness",
			Description: "GET /healthz and GET /readyz (database reachable) let load balancers route only to healthy nodes.",
			Test:        "internal/web: TestHealthAndReadiness"},
		{Clause: "CP-8.1", Name: "web.request-metrics",
			Description: "Prometheus request counts and durations by route pattern and status, and one structured log line per request without query strings, cookies or bodies.",
			Test:        "internal/web: TestMetricsByRoutePattern"},
		{Clause: "MTL-8.2", Name: "web.security-guidelines",
			Description: "A security guidelines page for customers, with the numbers of the live policy profile.",
			Test:        "internal/web: TestPagesRender"},
		{Clause: "CP-3.1", Name: "web.security-guidelines",
			Description: "Customers are told how to keep their account safe and how to report suspicious activity.",
			Test:        "internal/web: TestPagesRender"},
		{Clause: "MTL-2.1.2", Name: "web.privacy-notice",
			Description: "A versioned privacy notice listing each data category with its purpose, lawful basis and retention from the live profile.",
			Test:        "internal/web: TestPagesRender"},
	}
}
