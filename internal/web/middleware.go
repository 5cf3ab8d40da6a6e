package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/session"
)

// requestInfo is what the outer middleware knows about a request. Inner
// layers fill in the route pattern; the outer layer reads it back for the
// log line and metrics (inner layers work on copies of *http.Request, so the
// pattern is shared through this pointer, not through r.Pattern).
type requestInfo struct {
	id      string
	ip      string // the client address, resolved once (see resolveIP)
	nonce   string
	pattern string
	start   time.Time
}

type infoKey struct{}

func withInfo(ctx context.Context, i *requestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, i)
}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// RequestID returns the ID of the request being served, or "".
func RequestID(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives each request an ID, recovers panics into a 500 page, and
// writes one log line and the metrics when the request ends. The log line
// holds the request ID, method, route pattern, status and duration: never
// the query string, cookies, headers or body (they can hold tokens and
// personal data).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &requestInfo{id: rand.Text(), start: time.Now(), ip: s.resolveIP(r)}
		ctx := withInfo(r.Context(), info)
		// Enforces CP-5.1, MTL-2.1.3 (pseudonymisation): the audit trail,
		// which outlives accounts and is never encrypted, records the
		// client's network (IPv4 /24, IPv6 /48) and coarse device, not
		// the exact address and browser string; the exact ones are kept
		// encrypted under the person's key with their sign-ins and
		// sessions, for their retention period.
		ctx = audit.WithRequest(ctx, audit.Request{
			IP:        networkOf(info.ip),
			UserAgent: session.Device(r.UserAgent()),
			RequestID: info.id,
		})
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Request-Id", info.id)

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.Error("panic serving request", "request_id", info.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status != 0 {
					// Part of the response is on the wire: cut the
					// connection so that nobody takes it for a
					// complete one.
					s.logRequest(r, info, http.StatusInternalServerError)
					panic(http.ErrAbortHandler)
				}
				s.renderError(sw, r, fmt.Errorf("panic: %v", p))
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.logRequest(r, info, status)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRequest writes the request's log line and metrics.
func (s *Server) logRequest(r *http.Request, info *requestInfo, status int) {
	pattern := info.pattern
	if pattern == "" {
		pattern = "unmatched"
	}
	elapsed := time.Since(info.start)
	s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("request_id", info.id),
		slog.String("method", r.Method),
		slog.String("route", pattern),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	)
	if s.metrics != nil {
		s.metrics.observe(r.Method, pattern, status, elapsed)
	}
}

// clientIP is the request's client address, as resolveIP found it.
func clientIP(r *http.Request) string {
	if info := infoFrom(r.Context()); info != nil && info.ip != "" {
		return info.ip
	}
	return peerIP(r)
}

// peerIP is the address of the connection's other end.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// resolveIP finds the client address. Portico does not trust
// X-Forwarded-For by default (CP-6.3: no request is trusted for what it
// claims about its origin). Behind reverse proxies that the operator lists
// in --trusted-proxies, it walks X-Forwarded-For from the right and takes
// the first address that is not one of those proxies: hops to the left of
// it were written by the client and prove nothing.
func (s *Server) resolveIP(r *http.Request) string {
	peer := peerIP(r)
	if len(s.trusted) == 0 || !s.isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return peer // a malformed chain: believe only the connection
		}
		if !s.isTrusted(a.String()) {
			return a.Unmap().String()
		}
	}
	return peer
}

func (s *Server) isTrusted(ip string) bool {
	return inNetworks(s.trusted, ip)
}

// inNetworks reports whether ip lies in one of nets.
func inNetworks(nets []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// newNonce returns a fresh CSP nonce: 128 bits from crypto/rand, in the
// URL-safe base64 alphabet that CSP allows, so that html/template never
// escapes it in the nonce attribute ("+" would become "&#43;").
func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// permissionsPolicy denies the browser features Portico does not use.
// publickey-credentials-* stay allowed for this origin: passkeys need them.
const permissionsPolicy = "accelerometer=(), autoplay=(), camera=(), display-capture=(), " +
	"encrypted-media=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), " +
	"midi=(), payment=(), picture-in-picture=(), screen-wake-lock=(), serial=(), usb=(), " +
	"xr-spatial-tracking=(), publickey-credentials-create=(self), publickey-credentials-get=(self)"

// securityHeaders sets every security header in one place, on every
// response, errors included.
//
// Enforces CP-6.1 (XSS): a strict CSP with a per-request nonce and
// 'strict-dynamic': only scripts carrying the nonce run, inline event
// handlers and injected <script> tags do not. Styles come only from our own
// stylesheet.
// Enforces CP-5.1, MTL-4.2.1: HSTS for one year, subdomains included.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		info.nonce = newNonce()
		h := w.Header()
		h.Set("Content-Security-Policy", strings.Join([]string{
			"default-src 'none'",
			"script-src 'nonce-" + info.nonce + "' 'strict-dynamic'",
			"style-src 'self'",
			"img-src 'self' data:",
			"font-src 'self'",
			"connect-src 'self'",
			"manifest-src 'self'",
			"form-action 'self'",
			"frame-ancestors 'none'",
			"base-uri 'none'",
			"object-src 'none'",
		}, "; "))
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", permissionsPolicy)
		// Nothing dynamic is cached: pages may be personal. Static files
		// replace this with a long, immutable cache.
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body. A declared length over the limit
// is refused at once; a body that grows past it fails when read (the
// handler's parse error becomes 413 in the renderer).
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Enforces MTL-1.1: only the routes that take attachments accept
		// a body larger than a form (their handlers bound each file
		// again); claiming multipart elsewhere buys nothing.
		limit := s.maxBody
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if _, pattern := s.mux.Handler(r); uploadRoutes[pattern] {
				limit = max(limit, maxUploadBytes)
			}
		}
		if r.ContentLength > limit {
			s.renderError(w, r, apperr.New(apperr.TooLarge, "The request is too large."))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses cross-site state-changing requests (CSRF).
//
// Enforces CP-6.1 (CSRF): Go's CrossOriginProtection rejects any non-safe
// request whose Sec-Fetch-Site is not same-origin (or none), or whose Origin
// does not match the host. A browser always sends one of the two; a client
// that sends neither (an old browser, or a script) must present the signed
// double-submit form token instead, so no request changes state on the
// strength of a cookie alone.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.cop.Check(r); err != nil {
			s.renderError(w, r, errCrossOrigin)
			return
		}
		// The API authenticates with bearer tokens only, never cookies
		// (web/auth.go), so a forged cross-site request carries no
		// credential: it needs no form token.
		if !isSafeMethod(r.Method) && !isAPI(r) && r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
			if err := s.checkFormToken(r); err != nil {
				s.renderError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// maxUploadBytes bounds a multipart request to an upload route: three
// attachments of 5 MiB and the form around them.
const maxUploadBytes = 16 << 20

// uploadRoutes are the route patterns that take attachments (parseUpload).
var uploadRoutes = map[string]bool{
	"POST /tickets":                 true,
	"POST /tickets/{id}/reply":      true,
	"POST /desk/tickets/{id}/reply": true,
	"POST /vendors/{id}/agreements": true, // one agreement of 5 MiB
}

// networkOf is the network an address belongs to, as the audit trail
// records it: "203.0.113.0/24", "2001:db8:1::/48"; "" for anything else.
func networkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
