package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico/portico/internal/session"
)

// post sends a same-origin form.
func post(s *testServer, path string, form url.Values, cookie string) *http.Response {
	h := map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}
	if cookie != "" {
		h["Cookie"] = cookie
	}
	return do(s, "POST", path, strings.NewReader(form.Encode()), h).Result()
}

func sessionCookie(resp *http.Response) string {
	for _, c := range resp.Cookies() {
		if c.Name == session.CookieName && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// TestLoginForm: a failed sign-in renders the form again with 200 and one
// generic message, the same for an unknown address and a wrong password,
// and sets no session; the password step's success answers 303 to what is
// due next (CP-8.2, CP-4.1).
func TestLoginForm(t *testing.T) {
	s := newTestServer(t)
	signIn(t, s, "known@example.com", false)

	var bodies []string
	for _, f := range []url.Values{
		{"email": {"known@example.com"}, "password": {"wrong password entirely"}},
		{"email": {"unknown@example.com"}, "password": {"wrong password entirely"}},
	} {
		resp := post(s, "/login", f, "")
		if resp.StatusCode != http.StatusOK || sessionCookie(resp) != "" {
			t.Fatalf("failed sign-in: %d, cookie %q", resp.StatusCode, sessionCookie(resp))
		}
		b := readBody(resp)
		if !strings.Contains(b, `role="alert"`) || strings.Contains(b, "wrong password entirely") {
			t.Fatalf("failed sign-in page: no alert, or the password echoed")
		}
		i := strings.Index(b, `role="alert">`)
		bodies = append(bodies, b[i:i+120])
	}
	if bodies[0] != bodies[1] {
		t.Errorf("known and unknown addresses answer differently:\n%s\n%s", bodies[0], bodies[1])
	}

	resp := post(s, "/login", url.Values{"email": {"known@example.com"}, "password": {testPassword}}, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/mfa/setup" || sessionCookie(resp) == "" {
		t.Fatalf("password step: %d -> %q, cookie %q", resp.StatusCode, resp.Header.Get("Location"), sessionCookie(resp))
	}
}

// TestSignupAnswersTheSame: sign-up shows the same page whether or not the
// address has an account (no user enumeration), and a bad form is shown
// again with what to fix (CP-4.3, MTL-2.1.2).
func TestSignupAnswersTheSame(t *testing.T) {
	s := newTestServer(t)
	signIn(t, s, "taken@example.com", false)
	form := func(email string) url.Values {
		return url.Values{"name": {"Sam Doe"}, "email": {email}, "password": {testPassword}, "privacy": {s.privacy}}
	}
	a := post(s, "/signup", form("taken@example.com"), "")
	b := post(s, "/signup", form("fresh@example.com"), "")
	if a.StatusCode != 200 || b.StatusCode != 200 || !strings.Contains(readBody(a), "Check your email") || !strings.Contains(readBody(b), "Check your email") {
		t.Fatalf("sign-up answers %d and %d", a.StatusCode, b.StatusCode)
	}
	bad := form("new@example.com")
	bad.Del("privacy")
	resp := post(s, "/signup", bad, "")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(readBody(resp), "privacy notice") {
		t.Fatalf("sign-up without the privacy box: %d", resp.StatusCode)
	}
	weak := form("new@example.com")
	weak.Set("password", "password1234")
	resp = post(s, "/signup", weak, "")
	body := readBody(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `value="new@example.com"`) || strings.Contains(body, "password1234") {
		t.Fatalf("weak password: %d; the form must keep the address and never echo the password", resp.StatusCode)
	}
}

// TestGETChangesNothing: a confirmation link opened with GET shows a
// button; only the POST confirms (no state change on GET, CP-6.1).
func TestGETChangesNothing(t *testing.T) {
	s := newTestServer(t)
	w := do(s, "GET", "/verify/"+strings.Repeat("A", 52), nil, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "not valid") {
		t.Fatalf("unknown link: %d", w.Code)
	}
	w = do(s, "GET", "/reset/"+strings.Repeat("A", 52), nil, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "not valid") {
		t.Fatalf("unknown reset link: %d", w.Code)
	}
}

// TestLogoutEndsTheSessionServerSide: after logout the old cookie no
// longer works anywhere, and the browser is told to clear the site's data.
func TestLogoutEndsTheSessionServerSide(t *testing.T) {
	s := newTestServer(t)
	token, _ := signIn(t, s, "bye@example.com", false)
	cookie := session.CookieName + "=" + token
	resp := post(s, "/logout", nil, cookie)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatalf("logout: %d, Clear-Site-Data %q", resp.StatusCode, resp.Header.Get("Clear-Site-Data"))
	}
	w := do(s, "GET", "/account/mfa/setup", nil, map[string]string{"Cookie": cookie})
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login") {
		t.Fatalf("the ended session still works: %d %q", w.Code, w.Header().Get("Location"))
	}
}

func readBody(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestSaturatedHashGateAnswers503 covers MTL-1.1: when every slot of the
// password hashing gate is taken, a sign-in waits briefly, then gets 503
// Service Unavailable with Retry-After, on the page and in JSON alike, for
// a known and an unknown address the same way (CP-6.3).
func TestSaturatedHashGateAnswers503(t *testing.T) {
	s := newTestServer(t)
	signIn(t, s, "known@example.com", false)
	gate := s.identity.HashGate()
	release, err := gate.Acquire(context.Background(), gate.Capacity())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, email := range []string{"known@example.com", "unknown@example.com"} {
		form := url.Values{"email": {email}, "password": {testPassword}}
		resp := post(s, "/login", form, "")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || sessionCookie(resp) != "" {
			t.Errorf("%s, page: %d, Retry-After %q", email, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		w := do(s, "POST", "/login", strings.NewReader(form.Encode()), map[string]string{"Sec-Fetch-Site": "same-origin",
			"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
			!strings.Contains(w.Body.String(), `"code":"unavailable"`) {
			t.Errorf("%s, JSON: %d, Retry-After %q, %s", email, w.Code, w.Header().Get("Retry-After"), w.Body.String())
		}
	}
}
