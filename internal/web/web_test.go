package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/training"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/passkey"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
)

// syncBuffer is a log sink that tests can read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testServer struct {
	*Server
	db   *db.DB
	logs *syncBuffer
	reg  *prometheus.Registry
}

// testOption adjusts a test server's dependencies before it is built
// (the web layer reads the profile and proxies from Deps).
type testOption func(*Deps)

func newTestServer(t testing.TB, opts ...testOption) *testServer {
	t.Helper()
	return newTestServerOn(t, dbtest.SQLite(t, dbtest.Options{}), opts...)
}

// eachServer runs fn with a test server on SQLite and, when
// PORTICO_TEST_POSTGRES_URL is set, on PostgreSQL.
func eachServer(t *testing.T, fn func(t *testing.T, s *testServer), opts ...testOption) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fn(t, newTestServerOn(t, d, opts...))
	})
}

// newTestServerOn builds the whole web server over d.
func newTestServerOn(t testing.TB, d *db.DB, opts ...testOption) *testServer {
	t.Helper()
	keyPath := filepath.Join(t.TempDir(), "keys", "master.json")
	if err := crypto.CreateMasterKeyset(keyPath); err != nil {
		t.Fatal(err)
	}
	kr, err := crypto.Open(d, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	profile, err := policy.Builtin(policy.Default)
	if err != nil {
		t.Fatal(err)
	}
	profile.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	al := audit.New(d)
	pw, err := password.New(profile.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	sessions := session.NewStore(d, kr, al, profile.Session)
	notices, err := notify.New(d, kr, al, notify.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	passkeys, err := passkey.New(d, al, passkey.Config{RPID: "localhost", Origins: []string{"https://localhost"}, Keys: kr})
	if err != nil {
		t.Fatal(err)
	}
	// A short wait for the hashing gate, so that a test that fills it
	// hears the busy answer soon.
	gate := identity.NewHashGate(identity.HashGateCapacity(0, profile), 200*time.Millisecond)
	id, err := identity.New(identity.Deps{DB: d, Keys: kr, Audit: al, Profile: profile, Passwords: pw, Sessions: sessions, Passkeys: passkeys, PublicURL: "https://localhost",
		HashGate: gate, Notifier: notify.ForIdentity(notices)})
	if err != nil {
		t.Fatal(err)
	}
	desk, err := support.New(support.Deps{DB: d, Keys: kr, Audit: al, Profile: profile, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := apitoken.New(apitoken.Deps{DB: d, Keys: kr, Audit: al, Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	rights, err := privacy.New(privacy.Deps{DB: d, Keys: kr, Audit: al, Profile: profile, Identity: id, Support: desk, Notices: notices, Passkeys: passkeys, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	// Detection without its rules' inputs: the security team's pages
	// (alerts, reports) are in the route table.
	detection := detect.New(detect.Deps{DB: d, Audit: al, Profile: profile, Keys: kr, PublicURL: "https://localhost",
		TellCustomer: func(ctx context.Context, tx *db.Tx, accountID, title, body string) error {
			return id.NotifyAccount(ctx, tx, accountID, "security-report", title, body)
		}})
	incidents := incident.New(d, al, profile)
	incidents.SetDataCategories(privacy.CategoryNames(profile))
	incidents.SetDeliverer(notify.Tracked{Notices: notices, Address: id.EmailOf})
	incidents.SetOpened(func(ctx context.Context, tx *db.Tx, inc incident.Incident, by string) error {
		return detection.EscalateTo(ctx, tx, inc.Source, inc.ID, by)
	})
	register := findings.New(d, al, profile)
	incidents.SetFindings(register)
	vendors := thirdparty.New(d, al, profile)
	vendors.SetDataCategories(privacy.CategoryNames(profile))
	trainings := training.New(d, al, profile, id)
	policyDocs := governance.New(d, al, profile)
	// The live compliance report with the program's evidence checks over
	// these services (the web layer's own controls and a few others: the
	// whole list lives in internal/app, which tests here cannot import).
	evidence, err := compliance.New(d, al, profile, slices.Concat(Controls(), access.Controls(), audit.Controls(), identity.Controls()),
		compliance.Checks(compliance.Sources{DB: d, Audit: al, Keys: kr, Profile: profile, Identity: id, Sessions: sessions, Tokens: tokens,
			Support: desk, Privacy: rights, Detect: detection, Incidents: incidents, Findings: register, Training: trainings,
			Vendors: vendors, PolicyDocs: policyDocs}))
	if err != nil {
		t.Fatal(err)
	}
	evidence.SetKeyring(kr)
	deps := Deps{
		Findings:     register,
		Training:     trainings,
		Detect:       detection,
		Incidents:    incidents,
		Vendors:      vendors,
		PolicyDocs:   policyDocs,
		Compliance:   evidence,
		DB:           d,
		Secrets:      kr,
		Profile:      profile,
		Logger:       logger,
		Metrics:      NewMetrics(reg),
		MaxBodyBytes: 4096,
		Version:      "test",
		Identity:     id,
		Sessions:     sessions,
		Passkeys:     passkeys,
		Notices:      notices,
		Support:      desk,
		Tokens:       tokens,
		Keys:         kr,
		Audit:        al,
		Privacy:      rights,
	}
	for _, o := range opts {
		o(&deps)
	}
	s, err := New(context.Background(), deps)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: s, db: d, logs: logs, reg: reg}
}

// do sends a request through the whole middleware chain.
func do(h http.Handler, method, target string, body io.Reader, headers map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	// The test sign-ins record this browser: a session used from another
	// one is ended (CP-6.3), as TestContextChangeForcesSignIn shows.
	r.Header.Set("User-Agent", "test")
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestEveryRouteNamesAPermission walks the route table (CP-4.2, CP-6.3:
// deny by default). A route without a permission, or a state change on a
// method other than POST, fails here.
func TestEveryRouteNamesAPermission(t *testing.T) {
	s := newTestServer(t)
	seen := map[string]bool{}
	for _, rt := range s.routes() {
		if rt.perm == "" {
			t.Errorf("route %q names no permission", rt.pattern)
		}
		if rt.handler == nil {
			t.Errorf("route %q has no handler", rt.pattern)
		}
		method, _, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			t.Errorf("route %q does not name its method", rt.pattern)
		}
		if method != "GET" && method != "POST" {
			t.Errorf("route %q: only GET (no state change) and POST are used", rt.pattern)
		}
		if seen[rt.pattern] {
			t.Errorf("route %q listed twice", rt.pattern)
		}
		seen[rt.pattern] = true
	}
}

// TestSecurityHeaders checks the headers on pages, errors, static files and
// health checks (CP-6.1, CP-5.1, MTL-4.2.1).
func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t)
	css, _ := s.static.url("portico.css")
	for _, path := range []string{"/", "/login", "/signup", "/security", "/privacy", "/no-such-page", "/healthz", css} {
		t.Run(path, func(t *testing.T) {
			w := do(s, "GET", path, nil, nil)
			h := w.Result().Header
			want := map[string]string{
				"Strict-Transport-Security":  "max-age=31536000; includeSubDomains",
				"X-Content-Type-Options":     "nosniff",
				"X-Frame-Options":            "DENY",
				"Referrer-Policy":            "no-referrer",
				"Cross-Origin-Opener-Policy": "same-origin",
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			csp := h.Get("Content-Security-Policy")
			for _, d := range []string{"'strict-dynamic'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'", "default-src 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %s", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows unsafe sources: %q", csp)
			}
			if !strings.Contains(h.Get("Permissions-Policy"), "camera=()") {
				t.Errorf("Permissions-Policy = %q", h.Get("Permissions-Policy"))
			}
			if h.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			cc := h.Get("Cache-Control")
			if path == css {
				if cc != "public, max-age=31536000, immutable" {
					t.Errorf("static Cache-Control = %q", cc)
				}
			} else if cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
}

// TestCSPNonce checks the Content-Security-Policy of real responses
// directive by directive (script-src only this response's nonce with
// 'strict-dynamic', object-src, base-uri and frame-ancestors 'none', and
// nothing else than the policy below), that the page's script carries this
// response's nonce and that nonces are fresh per request (CP-6.1).
func TestCSPNonce(t *testing.T) {
	s := newTestServer(t)
	nonceRe := regexp.MustCompile(`'nonce-([^']+)'`)

	// Over a real connection: a page, a form, an error, a static file.
	srv := httptest.NewServer(s)
	defer srv.Close()
	css, _ := s.static.url("portico.css")
	for _, path := range []string{"/", "/login", "/no-such-page", css} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if n := len(res.Header.Values("Content-Security-Policy")); n != 1 {
			t.Fatalf("%s: %d Content-Security-Policy headers, want 1", path, n)
		}
		got, err := parseCSP(res.Header.Get("Content-Security-Policy"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// script-src: this response's nonce and 'strict-dynamic', nothing
		// else (no host, scheme, 'self', 'unsafe-inline' or 'unsafe-eval').
		script := got["script-src"]
		if len(script) != 2 || script[1] != "'strict-dynamic'" || !nonceRe.MatchString(script[0]) || nonceRe.FindString(script[0]) != script[0] {
			t.Errorf("%s: script-src %q, want 'nonce-…' 'strict-dynamic'", path, script)
		} else {
			nonce := nonceRe.FindStringSubmatch(script[0])[1]
			if b, err := base64.RawURLEncoding.DecodeString(nonce); err != nil || len(b) < 16 {
				t.Errorf("%s: nonce %q is not 128 random bits", path, nonce)
			}
			if path == "/" && !strings.Contains(string(body), `nonce="`+nonce+`"`) {
				t.Errorf("%s: the page's script does not carry the response's nonce", path)
			}
		}
		delete(got, "script-src")
		want := map[string][]string{
			"default-src":     {"'none'"},
			"style-src":       {"'self'"},
			"img-src":         {"'self'", "data:"},
			"font-src":        {"'self'"},
			"connect-src":     {"'self'"},
			"manifest-src":    {"'self'"},
			"form-action":     {"'self'"},
			"frame-ancestors": {"'none'"},
			"base-uri":        {"'none'"},
			"object-src":      {"'none'"},
		}
		for name, values := range want {
			if !slices.Equal(got[name], values) {
				t.Errorf("%s: %s %q, want %q", path, name, got[name], values)
			}
		}
		for name, values := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s: unexpected directive %s %q", path, name, values)
			}
		}
	}
	var nonces []string
	// Many requests: a nonce alphabet that html/template escapes would
	// show up only in some of them.
	for i := 0; i < 200; i++ {
		w := do(s, "GET", "/", nil, nil)
		m := nonceRe.FindStringSubmatch(w.Result().Header.Get("Content-Security-Policy"))
		if m == nil {
			t.Fatal("no nonce in CSP")
		}
		if !strings.Contains(w.Body.String(), `nonce="`+m[1]+`"`) {
			t.Fatal("the page's script does not carry the response's nonce")
		}
		nonces = append(nonces, m[1])
	}
	seen := map[string]bool{}
	for _, n := range nonces {
		if seen[n] {
			t.Fatal("nonce reused across requests")
		}
		seen[n] = true
	}
	// No inline script or style anywhere in the rendered pages.
	for _, path := range []string{"/", "/login", "/signup", "/security", "/privacy", "/nope"} {
		body := do(s, "GET", path, nil, nil).Body.String()
		if regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]`).MatchString(body) {
			t.Errorf("%s has an inline script", path)
		}
		if strings.Contains(body, " style=") || strings.Contains(body, "<style") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
			t.Errorf("%s has an inline style or event handler", path)
		}
	}
}

// parseCSP splits a policy into its directives (names lower case), and
// refuses an empty or repeated directive: a browser ignores the repeat, so
// a test must not read it.
func parseCSP(policy string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("CSP %q repeats %s", policy, name)
		}
		out[name] = f[1:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty CSP")
	}
	return out, nil
}

// TestTemplatesEscape checks contextual escaping of user-supplied values
// (CP-6.1, XSS).
func TestTemplatesEscape(t *testing.T) {
	s := newTestServer(t)
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/login", nil)
	attack := `"><script>alert(1)</script>`
	if err := s.render(w, "login", loginPage{Page: s.page(w, r, "Sign in"), Email: attack}); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	if strings.Contains(body, "<script>alert(1)") {
		t.Fatal("value rendered unescaped")
	}
	if !strings.Contains(body, "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("escaped value not found in body")
	}
}

// TestCrossOriginProtection checks the CSRF defence (CP-6.1) on a
// state-changing handler behind the real middleware.
func TestCrossOriginProtection(t *testing.T) {
	s := newTestServer(t)
	changed := 0
	h := s.observe(s.securityHeaders(s.limitBody(s.crossOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(r); err != nil {
			s.renderError(w, r, err)
			return
		}
		changed++
		w.WriteHeader(http.StatusNoContent)
	})))))
	form := func(v url.Values) io.Reader { return strings.NewReader(v.Encode()) }
	ct := "application/x-www-form-urlencoded"

	// Obtain a form token and its cookie from a rendered page.
	page := do(s, "GET", "/login", nil, nil)
	cookie := page.Result().Cookies()[0]
	if cookie.Name != csrfCookie || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("csrf cookie = %+v", cookie)
	}
	token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page.Body.String())[1]

	cases := []struct {
		name    string
		headers map[string]string
		body    url.Values
		want    int
	}{
		{"cross-site fetch metadata is refused", map[string]string{"Sec-Fetch-Site": "cross-site"}, nil, 403},
		{"same-site (sibling subdomain) is refused", map[string]string{"Sec-Fetch-Site": "same-site"}, nil, 403},
		{"foreign Origin is refused", map[string]string{"Origin": "https://evil.example"}, nil, 403},
		{"same-origin fetch metadata is accepted", map[string]string{"Sec-Fetch-Site": "same-origin"}, nil, 204},
		{"matching Origin is accepted", map[string]string{"Origin": "https://example.com"}, nil, 204},
		{"no headers and no token is refused", nil, nil, 403},
		{"no headers, token without cookie is refused", nil, url.Values{"csrf_token": {token}}, 403},
		{"no headers, forged token is refused", map[string]string{"Cookie": csrfCookie + "=" + cookie.Value}, url.Values{"csrf_token": {"AAAA" + token[4:]}}, 403},
		{"no headers, token for another cookie is refused", map[string]string{"Cookie": csrfCookie + "=ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, url.Values{"csrf_token": {token}}, 403},
		{"no headers, valid signed token is accepted", map[string]string{"Cookie": csrfCookie + "=" + cookie.Value}, url.Values{"csrf_token": {token}}, 204},
		{"no headers, valid token in X-CSRF-Token is accepted", map[string]string{"Cookie": csrfCookie + "=" + cookie.Value, "X-CSRF-Token": token}, nil, 204},
		{"no headers, forged X-CSRF-Token is refused", map[string]string{"Cookie": csrfCookie + "=" + cookie.Value, "X-CSRF-Token": "AAAA" + token[4:]}, nil, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := changed
			hd := map[string]string{"Content-Type": ct}
			for k, v := range tc.headers {
				hd[k] = v
			}
			w := do(h, "POST", "https://example.com/change", form(tc.body), hd)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.want, w.Body.String())
			}
			if tc.want == 403 && changed != before {
				t.Fatal("a refused request changed state")
			}
		})
	}
	// GET is never blocked (and never changes state).
	if w := do(h, "GET", "https://example.com/change", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); w.Code != 204 {
		t.Fatalf("cross-site GET = %d", w.Code)
	}
}

// TestCrossOriginPostToRealRoute sends a cross-site POST to a real route
// through the whole server: refused with the rendered 403 page.
func TestCrossOriginPostToRealRoute(t *testing.T) {
	s := newTestServer(t)
	w := do(s, "POST", "/login", strings.NewReader("email=a"), map[string]string{"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"})
	if w.Code != 403 || !strings.Contains(w.Body.String(), "another site") {
		t.Fatalf("status = %d body = %s", w.Code, w.Body.String())
	}
}

func TestBodyLimit(t *testing.T) {
	s := newTestServer(t)
	big := strings.Repeat("a", 5000) // over the 4096-byte test limit
	t.Run("declared length over the limit gets 413", func(t *testing.T) {
		w := do(s, "POST", "/login", strings.NewReader("x="+big), map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"})
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "too large") {
			t.Fatalf("status = %d", w.Code)
		}
	})
	t.Run("undeclared length over the limit gets 413 when read", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/login", io.MultiReader(strings.NewReader("x="), strings.NewReader(big)))
		r.ContentLength = -1
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r) // no fetch headers: the token check reads the body
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d", w.Code)
		}
	})
	// Enforces MTL-1.1: claiming multipart/form-data raises the limit only
	// on the routes that take attachments.
	t.Run("multipart gets the upload limit only on upload routes", func(t *testing.T) {
		ct := map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "multipart/form-data; boundary=x"}
		if w := do(s, "POST", "/login", strings.NewReader("x="+big), ct); w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("multipart to /login: status = %d, want 413", w.Code)
		}
		if w := do(s, "POST", "/tickets", strings.NewReader("x="+big), ct); w.Code == http.StatusRequestEntityTooLarge {
			t.Errorf("multipart to /tickets: 413 under the upload limit")
		}
	})
	t.Run("malformed form gets 400", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/login", strings.NewReader("x=%zz"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("status = %d", w.Code)
		}
	})
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	s := newTestServer(t)
	w := do(s, "GET", "/no/such/page", nil, nil)
	if w.Code != 404 || !strings.Contains(w.Body.String(), "Page not found") || !strings.Contains(w.Body.String(), "Request ID") {
		t.Fatalf("404: %d %s", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), "404 page not found") {
		t.Fatal("the mux's plain-text 404 leaked through")
	}
	w = do(s, "POST", "/healthz", nil, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if w.Code != 405 || !strings.Contains(w.Result().Header.Get("Allow"), "GET") {
		t.Fatalf("405: %d allow=%q", w.Code, w.Result().Header.Get("Allow"))
	}
	if !strings.Contains(w.Body.String(), "does not accept") {
		t.Fatal("405 page not rendered")
	}
	// Unknown static files are 404 too.
	if w := do(s, "GET", "/static/portico.00000000.css", nil, nil); w.Code != 404 {
		t.Fatalf("unknown static = %d", w.Code)
	}
}

// TestErrorRendererHidesInternals: an internal error's text reaches the log
// with the request ID, never the user.
func TestErrorRendererHidesInternals(t *testing.T) {
	s := newTestServer(t)
	h := s.observe(s.securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, errors.New("pq: password authentication failed for user admin at 10.0.0.5"))
	})))
	w := do(h, "GET", "/", nil, nil)
	body := w.Body.String()
	if w.Code != 500 || strings.Contains(body, "password authentication") || strings.Contains(body, "10.0.0.5") {
		t.Fatalf("internal detail shown: %d %s", w.Code, body)
	}
	id := w.Result().Header.Get("X-Request-Id")
	if !strings.Contains(body, id) {
		t.Fatal("request ID not shown")
	}
	if !strings.Contains(s.logs.String(), "password authentication") || !strings.Contains(s.logs.String(), id) {
		t.Fatal("internal error not logged with its request ID")
	}

	// A safe message is shown as written.
	w = do(s.observe(s.securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, apperr.New(apperr.Invalid, "Enter your email address."))
	}))), "GET", "/", nil, nil)
	if w.Code != 422 || !strings.Contains(w.Body.String(), "Enter your email address.") {
		t.Fatalf("invalid: %d", w.Code)
	}

	// JSON clients get JSON.
	w = do(s, "GET", "/nope", nil, map[string]string{"Accept": "application/json"})
	if !strings.HasPrefix(w.Result().Header.Get("Content-Type"), "application/json") || !strings.Contains(w.Body.String(), `"code":"not_found"`) {
		t.Fatalf("json error: %s", w.Body.String())
	}
}

func TestPanicIsRecovered(t *testing.T) {
	s := newTestServer(t)
	h := s.observe(s.securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("secret internal state")
	})))
	w := do(h, "GET", "/", nil, nil)
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret internal state") {
		t.Fatalf("panic: %d %s", w.Code, w.Body.String())
	}
	if !strings.Contains(s.logs.String(), "panic serving request") {
		t.Fatal("panic not logged")
	}

	// A panic after part of the response was written cuts the connection
	// (http.ErrAbortHandler) rather than pass the truncated page off as
	// complete.
	h = s.observe(s.securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<p>half a page"))
		panic("late failure")
	})))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		do(h, "GET", "/", nil, nil)
	}()
}

// TestRequestLog: one line per request with ID, method, route pattern,
// status and duration; never the query string, cookies or body.
func TestRequestLog(t *testing.T) {
	s := newTestServer(t)
	do(s, "GET", "/login?reset_token=QUERYSECRET", nil, map[string]string{"Cookie": "__Host-session=COOKIESECRET", "Authorization": "Bearer HEADERSECRET"})
	do(s, "POST", "/login", strings.NewReader("password=BODYSECRET"), map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"})
	logs := s.logs.String()
	for _, secret := range []string{"QUERYSECRET", "COOKIESECRET", "HEADERSECRET", "BODYSECRET", "reset_token"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %s", secret)
		}
	}
	for _, want := range []string{`"msg":"request"`, `"route":"GET /login"`, `"method":"GET"`, `"status":200`, `"duration_ms"`, `"request_id"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	s := newTestServer(t)
	if w := do(s, "GET", "/healthz", nil, nil); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Fatalf("healthz = %d %q", w.Code, w.Body.String())
	}
	if w := do(s, "GET", "/readyz", nil, nil); w.Code != 200 {
		t.Fatalf("readyz = %d", w.Code)
	}
	s.db.Close()
	if w := do(s, "GET", "/readyz", nil, nil); w.Code != 503 {
		t.Fatalf("readyz with the database closed = %d, want 503", w.Code)
	}
}

func TestStaticFiles(t *testing.T) {
	s := newTestServer(t)
	u, err := s.static.url("portico.css")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/static/portico\.[0-9a-f]{12}\.css$`).MatchString(u) {
		t.Fatalf("asset URL %q carries no content hash", u)
	}
	w := do(s, "GET", u, nil, nil)
	if w.Code != 200 || !strings.HasPrefix(w.Result().Header.Get("Content-Type"), "text/css") {
		t.Fatalf("static: %d %s", w.Code, w.Result().Header.Get("Content-Type"))
	}
	// Browsers ask for /favicon.ico whatever the page links.
	if w := do(s, "GET", "/favicon.ico", nil, nil); w.Code != 200 || w.Result().Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("/favicon.ico: %d %s", w.Code, w.Result().Header.Get("Content-Type"))
	}
}

func TestMetricsByRoutePattern(t *testing.T) {
	s := newTestServer(t)
	do(s, "GET", "/", nil, nil)
	do(s, "GET", "/nope/1", nil, nil)
	do(s, "GET", "/nope/2", nil, nil)
	if n := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET", "GET /{$}", "200")); n != 1 {
		t.Fatalf("landing count = %v", n)
	}
	// Unknown paths share one label: no unbounded cardinality.
	if n := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET", "unmatched", "404")); n != 2 {
		t.Fatalf("unmatched count = %v", n)
	}
}

func TestPagesRender(t *testing.T) {
	s := newTestServer(t)
	cases := map[string][]string{
		"/":         {"What you can do here", "How we protect you"},
		"/login":    {`name="email"`, `name="password"`, `autocomplete="current-password"`},
		"/signup":   {`name="email"`, `name="password"`, "At least 12 characters", `autocomplete="new-password"`},
		"/security": {"never", "Report suspicious activity", "24 hours"},
		"/privacy":  {"Sign-in history", "395 days", "72 hours", "erase"},
	}
	for path, wants := range cases {
		w := do(s, "GET", path, nil, nil)
		if w.Code != 200 {
			t.Errorf("%s = %d", path, w.Code)
			continue
		}
		for _, want := range wants {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
	t.Run("security guidelines", func(t *testing.T) { testGuidelinesAdvice(t, s) })
}

// testGuidelinesAdvice (part of TestPagesRender): the security guidelines
// page gives the advice that CP-3.1 and MTL-8.2 ask for, in words, with
// the live profile's numbers: a strong unique password, a second factor,
// phishing, and how to report suspicious activity.
func testGuidelinesAdvice(t *testing.T, s *testServer) {
	w := do(s, "GET", "/security", nil, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("/security = %d", w.Code)
	}
	text := visibleText(w.Body.String())
	p := s.profile
	wants := []string{
		// Passwords (CP-3.1: keep strong passwords).
		fmt.Sprintf("Use a passphrase of several unrelated words, at least %d characters.", p.Password.MinLength),
		"Never reuse a password from another site",
		"A password manager makes this easy",
		"We check new passwords against lists of common and breached passwords and refuse them",
		// Second factor (CP-4.1, MTL-3.1.2).
		"With one, a stolen password alone cannot open your account.",
		"Passkeys are the strongest choice: they cannot be phished",
		"Authenticator apps show a six-digit code",
		"Recovery codes let you in if you lose your phone.",
		// Phishing, and reporting (CP-3.1).
		"We will never ask for your password, a sign-in code or a recovery code",
		"Report suspicious activity straight away",
		fmt.Sprintf("we tell you within %d hours of detecting it", int(p.Incident.CustomerNotification.Hours())),
	}
	if p.MFA.Mode == policy.MFARequired {
		wants = append(wants, "Our policy requires a second factor for every account.")
	} else {
		wants = append(wants, "We strongly encourage a second factor.")
	}
	if p.Password.ExpiryDays > 0 {
		wants = append(wants, fmt.Sprintf("passwords expire every %d days. We warn you %d days before", p.Password.ExpiryDays, p.Password.ExpiryWarningDays))
	}
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("the guidelines lack %q", want)
		}
	}
}

// visibleText is a page's text as a reader sees it: no tags, entities
// decoded, runs of white space as one space.
func visibleText(page string) string {
	page = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)>`).ReplaceAllString(page, " ")
	page = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, "")
	return strings.Join(strings.Fields(html.UnescapeString(page)), " ")
}

// TestEveryTemplateParses: pages are parsed on first use in a running
// server, so every one is parsed here, where a mistake fails the build's
// tests instead of waiting for the page's first visitor; an unknown page
// is an error, not an empty page.
func TestEveryTemplateParses(t *testing.T) {
	static, err := loadStatic()
	if err != nil {
		t.Fatal(err)
	}
	pt, err := parseTemplates(static)
	if err != nil {
		t.Fatal(err)
	}
	if len(pt.files) < 50 {
		t.Fatalf("only %d page templates found", len(pt.files))
	}
	for name := range pt.files {
		if _, err := pt.get(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := pt.get("no-such-page"); err == nil {
		t.Error("an unknown page parsed")
	}
}
