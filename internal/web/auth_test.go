package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

const testPassword = "correct horse battery staple 42"

// signIn creates an account and signs it in with its password, returning
// the session token and the step the sign-in reached.
func signIn(t testing.TB, s *testServer, email string, withTOTP bool) (string, identity.Step) {
	tok, step, _ := signInSecret(t, s, email, withTOTP)
	return tok, step
}

// signInSecret is signIn that also returns the TOTP secret it enrolled.
func signInSecret(t testing.TB, s *testServer, email string, withTOTP bool) (string, identity.Step, string) {
	return signInRole(t, s, email, access.RoleCustomer, withTOTP)
}

// signInRole is signInSecret for an account of the given role.
func signInRole(t testing.TB, s *testServer, email string, role access.Role, withTOTP bool) (string, identity.Step, string) {
	t.Helper()
	ctx := context.Background()
	acct, err := s.identity.CreateAccount(ctx, identity.NewAccount{Email: email, Role: role, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	secret := ""
	if withTOTP {
		if err := s.identity.StartTOTP(ctx, acct.ID); err != nil {
			t.Fatal(err)
		}
		e, _, err := s.identity.PendingTOTP(ctx, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret = strings.ReplaceAll(e.Secret, " ", "")
		code, _ := totp.GenerateCode(secret, time.Now())
		if _, err := s.identity.ConfirmTOTP(ctx, acct.ID, code); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.identity.Login(ctx, identity.Credentials{Email: email, Password: testPassword, IP: "192.0.2.10", UserAgent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Token, res.Next, secret
}

// signInFull signs an account in completely: password, then a TOTP code.
func signInFull(t testing.TB, s *testServer, email string) string {
	t.Helper()
	return signInAs(t, s, email, access.RoleCustomer)
}

// signInAs creates an account of the given role and signs it in
// completely (password and TOTP), returning the session token. The
// sign-in is fresh, so step-up checks pass for the profile's window.
func signInAs(t testing.TB, s *testServer, email string, role access.Role) string {
	t.Helper()
	ctx := context.Background()
	token, step, secret := signInRole(t, s, email, role, true)
	if step != identity.StepSecondFactor {
		t.Fatalf("step %q", step)
	}
	sess, err := s.sessions.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	// The enrolment used the current step's code: use the next one.
	code, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	res, err := s.identity.VerifySecondFactor(ctx, sess, code, "192.0.2.10", "test")
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

// concrete turns a route pattern into a method and a path that matches it.
func concrete(pattern string) (string, string) {
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	for strings.Contains(path, "{") {
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		path = path[:i] + "x" + path[j+1:]
	}
	return method, path
}

// TestRestrictedModes walks the whole route table for a session in each
// restricted stage and proves that only the step it owes (and signing out,
// and public pages) answers (CP-4.1, CP-12): an account without its second
// factor reaches nothing of the portal, and one that must change its
// password (expired, breached, or an administrator's or incident's order)
// reaches nothing but the change-password page, even with both factors.
func TestRestrictedModes(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	password := func(email string, totp bool) func(t *testing.T) (string, identity.Step) {
		return func(t *testing.T) (string, identity.Step) { return signIn(t, s, email, totp) }
	}
	cases := []struct {
		name    string
		session func(t *testing.T) (string, identity.Step)
		step    identity.Step
		allowed access.Permission
		page    string
	}{
		{"MFA required and none enrolled", password("enrol@example.com", false), identity.StepEnrol, access.MFAEnrol, "/account/mfa/setup"},
		{"second factor owed", password("mfa@example.com", true), identity.StepSecondFactor, access.SignInSecondFactor, "/login/mfa"},
		{"password change required", func(t *testing.T) (string, identity.Step) {
			// Both factors given: the forced change alone restricts it.
			_, _, secret := signInRole(t, s, "change@example.com", access.RoleCustomer, true)
			acct, err := s.identity.FindByEmail(ctx, "change@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.identity.RequirePasswordChange(ctx, acct.ID, identity.ChangeAdmin); err != nil {
				t.Fatal(err)
			}
			res, err := s.identity.Login(ctx, identity.Credentials{Email: "change@example.com", Password: testPassword, IP: "192.0.2.10", UserAgent: "test"})
			if err != nil || res.Next != identity.StepSecondFactor {
				t.Fatalf("sign-in: %q %v", res.Next, err)
			}
			sess, err := s.sessions.Authenticate(ctx, res.Token)
			if err != nil {
				t.Fatal(err)
			}
			code, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
			res, err = s.identity.VerifySecondFactor(ctx, sess, code, "192.0.2.10", "test")
			if err != nil {
				t.Fatal(err)
			}
			return res.Token, res.Next
		}, identity.StepChangePassword, access.PasswordChange, "/account/password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token, step := tc.session(t)
			if step != tc.step {
				t.Fatalf("sign-in reached %q, want %q", step, tc.step)
			}
			cookie := session.CookieName + "=" + token
			headers := map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}
			// The stage's own page answers.
			if w := do(s, http.MethodGet, tc.page, nil, headers); w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d (Location %q), want 200", tc.page, w.Code, w.Header().Get("Location"))
			}
			for _, rt := range s.routes() {
				if rt.perm == access.Public || rt.pattern == "POST /logout" {
					continue
				}
				method, path := concrete(rt.pattern)
				w := do(s, method, path, strings.NewReader(""), headers)
				denied := w.Code == http.StatusNotFound && method == http.MethodPost ||
					w.Code == http.StatusSeeOther && w.Header().Get("Location") == tc.page && method == http.MethodGet ||
					strings.HasPrefix(path, "/api/") && w.Code == http.StatusUnauthorized // sessions do not reach the API
				switch rt.perm {
				case tc.allowed, access.SessionEnd:
					if w.Code == http.StatusNotFound && strings.Contains(w.Body.String(), "Page not found") && !strings.Contains(rt.pattern, "{") {
						t.Errorf("%s: the step's own route was refused", rt.pattern)
					}
				default:
					if !denied {
						t.Errorf("%s answered %d (Location %q) to a session that owes %s", rt.pattern, w.Code, w.Header().Get("Location"), tc.step)
					}
				}
			}
			// Signing out works, and ends the session.
			if w := do(s, http.MethodPost, "/logout", strings.NewReader(""), headers); w.Code != http.StatusSeeOther {
				t.Errorf("POST /logout: %d", w.Code)
			}
			if w := do(s, http.MethodGet, "/account", nil, headers); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?") {
				t.Errorf("after signing out, GET /account: %d %q, want a redirect to sign in", w.Code, w.Header().Get("Location"))
			}
		})
	}
}

// TestAnonymousIsSentToSignIn: pages that need an account send anonymous
// visitors to sign in and back (GET), and refuse state changes (POST); the
// API answers 401 in JSON.
func TestAnonymousIsSentToSignIn(t *testing.T) {
	s := newTestServer(t)
	for _, rt := range s.routes() {
		if rt.perm == access.Public {
			continue
		}
		method, path := concrete(rt.pattern)
		w := do(s, method, path, strings.NewReader(""), map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"})
		switch {
		case strings.HasPrefix(path, "/api/"):
			if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("%s: %d %q, want 401 in JSON", rt.pattern, w.Code, w.Header().Get("Content-Type"))
			}
		case method == http.MethodGet && rt.perm != access.SignInSecondFactor:
			if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
				t.Errorf("%s: %d %q, want a redirect to sign in", rt.pattern, w.Code, w.Header().Get("Location"))
			}
		default:
			if w.Code != http.StatusUnauthorized && w.Code != http.StatusNotFound {
				t.Errorf("%s: %d, want 401 or 404", rt.pattern, w.Code)
			}
		}
	}
}

// TestForgedSessionCookie: a cookie that is not a live session is dropped
// and the request is anonymous (CP-6.3).
func TestForgedSessionCookie(t *testing.T) {
	s := newTestServer(t)
	token, _ := signIn(t, s, "forge@example.com", false)
	id, _, _ := strings.Cut(token, ".")
	for _, c := range []string{"garbage", id + ".AAAAAAAAAAAAAAAAAAAAAAAAAA", token + "x"} {
		w := do(s, "GET", "/account/mfa/setup", nil, map[string]string{"Cookie": session.CookieName + "=" + c})
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login") {
			t.Errorf("cookie %q: %d %q, want a redirect to sign in", c, w.Code, w.Header().Get("Location"))
		}
		if !strings.Contains(w.Header().Get("Set-Cookie"), session.CookieName+"=;") {
			t.Errorf("cookie %q was not dropped: %q", c, w.Header().Get("Set-Cookie"))
		}
	}
}

// TestSafeNext: the page to go back to after signing in is always on this
// site (no open redirect).
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/account/security":     "/account/security",
		"/account?x=1":          "/account?x=1",
		"https://evil.example/": "/fallback",
		"//evil.example/":       "/fallback",
		"/\\evil.example":       "/fallback",
		"":                      "/fallback",
		"javascript:alert(1)":   "/fallback",
		"/%2F%2Fevil.example/x": "/%2F%2Fevil.example/x",
	} {
		if got := safeNext(in, "/fallback"); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
