package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico/portico/internal/session"
)

// TestCookie covers CP-6.3 and CP-6.1: the session cookie is __Host-
// prefixed, Secure, HttpOnly, SameSite=Lax, Path=/ and has no Domain;
// clearing it also clears the site's data in the browser.
func TestCookie(t *testing.T) {
	const token = "aaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbb"
	rec := httptest.NewRecorder()
	session.SetCookie(rec, token)
	raw := rec.Header().Values("Set-Cookie")
	if len(raw) != 1 {
		t.Fatalf("Set-Cookie headers %q", raw)
	}
	for _, want := range []string{"__Host-portico-session=" + token, "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(raw[0], want) {
			t.Errorf("Set-Cookie %q lacks %q", raw[0], want)
		}
	}
	for _, bad := range []string{"Domain", "Max-Age", "Expires"} {
		if strings.Contains(raw[0], bad) {
			t.Errorf("Set-Cookie %q has %s", raw[0], bad)
		}
	}

	// The browser sends it back; TokenFrom reads it.
	req := httptest.NewRequest("GET", "https://portal.example/", nil)
	req.Header.Set("Cookie", "other=1; "+session.CookieName+"="+token)
	if got := session.TokenFrom(req); got != token {
		t.Errorf("TokenFrom = %q", got)
	}
	if got := session.TokenFrom(httptest.NewRequest("GET", "/", nil)); got != "" {
		t.Errorf("TokenFrom without a cookie = %q", got)
	}
	// A cookie of a similar name is not the session cookie.
	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "portico-session="+token+"; __Secure-portico-session="+token)
	if got := session.TokenFrom(req); got != "" {
		t.Errorf("TokenFrom took another cookie: %q", got)
	}

	rec = httptest.NewRecorder()
	session.ClearCookie(rec)
	res := rec.Result()
	cs := res.Cookies()
	if len(cs) != 1 || cs[0].Name != session.CookieName || cs[0].Value != "" || cs[0].MaxAge >= 0 ||
		!cs[0].Secure || !cs[0].HttpOnly || cs[0].Path != "/" || cs[0].Domain != "" || cs[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("ClearCookie set %+v", cs)
	}
	if got := res.Header.Get("Clear-Site-Data"); got != `"cache", "cookies", "storage"` {
		t.Errorf("Clear-Site-Data %q", got)
	}
}

// TestContext: the middleware puts the session in the request context
// and handlers take it out; a context without one says so.
func TestContext(t *testing.T) {
	if _, ok := session.FromContext(context.Background()); ok {
		t.Error("a bare context carries a session")
	}
	ctx := session.WithSession(context.Background(), session.Session{ID: "s1", AccountID: "a1", AAL: 2})
	s, ok := session.FromContext(ctx)
	if !ok || s.ID != "s1" || s.AccountID != "a1" || s.AAL != 2 {
		t.Errorf("FromContext = %+v, %v", s, ok)
	}
}

// TestDevice: coarse descriptions of real user agents, and nothing taken
// verbatim from an agent the parser does not know (the result is stored
// in clear).
func TestDevice(t *testing.T) {
	cases := []struct{ ua, want string }{
		{uaFirefox, "Firefox 140 on Linux"},
		{uaIPhone, "Safari on iPhone"},
		{"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPad"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0", "Edge 138 on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36", "Chrome 138 on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari 18 on macOS"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/22.0 Chrome/111.0.5563.116 Mobile Safari/537.36", "Samsung Browser on Android"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36", "Chrome 138 on ChromeOS"},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Bot"},
		{"curl/8.5.0", "Unknown device"},
		{"", "Unknown device"},
		{"dana.secret@example.com/1.0 (customer 4711)", "Unknown device"},
		{"Mozilla/5.0 (X11; Linux x86_64) dana.secret@example.com/1.0", "Unknown browser on Linux"},
	}
	for _, c := range cases {
		if got := session.Device(c.ua); got != c.want {
			t.Errorf("Device(%.60q) = %q, want %q", c.ua, got, c.want)
		}
	}
}

// TestCountry: ISO codes for public addresses from the embedded database,
// "" for everything that is not a public address.
func TestCountry(t *testing.T) {
	cases := map[string]string{
		"8.8.8.8":                    "US",
		"2001:4860:4860::8888":       "US",
		"::ffff:8.8.8.8":             "US",
		"8.8.8.8:443":                "US",
		"[2001:4860:4860::8888]:443": "US",
		"81.2.69.142":                "GB",
		"193.99.144.80":              "DE",
		"127.0.0.1":                  "",
		"::1":                        "",
		"10.1.2.3":                   "",
		"172.16.0.1":                 "",
		"192.168.1.1":                "",
		"100.64.1.1":                 "",
		"169.254.1.1":                "",
		"fe80::1%eth0":               "",
		"fd00::1":                    "",
		"192.0.2.1":                  "",
		"2001:db8::1":                "",
		"0.0.0.0":                    "",
		"255.255.255.255":            "",
		"224.0.0.1":                  "",
		"":                           "",
		"localhost":                  "",
		"8.8.8":                      "",
	}
	for ip, want := range cases {
		if got := session.Country(ip); got != want {
			t.Errorf("Country(%q) = %q, want %q", ip, got, want)
		}
	}
}
