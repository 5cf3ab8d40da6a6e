package app_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
)

// TestEmailCodeChallengeInBrowser (CP-8.2, CP-4.1), on SQLite and
// PostgreSQL, with the 1642mtl-web profile (MFA encouraged) set to
// challenge every sign-in: a customer without a second factor who signs in
// with the right password is held on a page that asks for the code
// emailed to them, can reach nothing else, gets a new code on request
// (the old one stops working), and is signed in by the code, which their
// sign-in history then shows.
func TestEmailCodeChallengeInBrowser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { emailCodeFlow(t, tc.extra(t)...) })
	}
}

var mailedCode = regexp.MustCompile(`Your sign-in code is (\d{6})\.`)

func emailCodeFlow(t *testing.T, extra ...string) {
	root := chromium(t)
	mail := mailtest.Start(t)
	policyFile := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policyFile, []byte(e2ePolicy+"\n[detection.risk]\nlow_action = \"challenge\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e2eConfig(t, mail.URL(), append(extra, "--policy", "1642mtl-web", "--policy-file", policyFile)...)
	r := startApp(t, cfg)
	ids := identityFor(t, r, cfg)
	const (
		email = "challenged.e2e@example.test"
		pw    = "orchard-lantern-quietly-47-harbours"
	)
	if _, err := ids.CreateAccount(context.Background(), identity.NewAccount{Email: email, Role: "customer", Password: pw}); err != nil {
		t.Fatal(err)
	}
	codeMail := func(match func(mailtest.Message) bool) (mailtest.Message, string) {
		t.Helper()
		m := mail.WaitFor(t, func(m mailtest.Message) bool {
			return slices.Contains(m.To, email) && m.Subject == "Your Portico sign-in code" && match(m)
		}, 15*time.Second)
		c := mailedCode.FindStringSubmatch(m.Text)
		if c == nil {
			t.Fatalf("no code in the mail: %q", m.Text)
		}
		return m, c[1]
	}

	b := newTab(t, root, "customer", r.URL(), false, "")
	b.open(t, "/login")
	b.submit(t, `form[action="/login"] button[type=submit]`, field{"#email", email}, field{"#password", pw})
	b.wantPath(t, "/login/mfa")
	if h := b.text(t, "h1"); h != "We sent a code to your email address" {
		t.Fatalf("after the password: h1 %q", h)
	}
	first, firstCode := codeMail(func(m mailtest.Message) bool { return strings.Contains(m.Text, "Someone signed in") })
	for _, want := range []string{"It works once, for the next 10 minutes", "If this was not you", "change your password", "/reset"} {
		if !strings.Contains(first.Text, want) {
			t.Errorf("the code mail does not say %q: %q", want, first.Text)
		}
	}

	// The pending sign-in reaches nothing but the code page.
	b.open(t, "/account")
	b.wantPath(t, "/login/mfa")

	// A new code; the first stops working.
	b.submit(t, `form[action="/login/mfa/resend"] button`)
	b.wantPath(t, "/login/mfa?done=code-sent")
	_, newCode := codeMail(func(m mailtest.Message) bool { return strings.Contains(m.Text, "A new code was asked for") })
	if newCode != firstCode {
		b.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", firstCode})
		b.wantPath(t, "/login/mfa")
		if msg := b.text(t, "[role=alert]"); !strings.Contains(msg, "That code is not right") {
			t.Fatalf("the replaced code: alert %q", msg)
		}
	}

	b.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", newCode})
	b.wantPath(t, "/account")
	if !b.sessionCookie(t) {
		t.Fatal("no session after the right code")
	}
	b.open(t, "/account/security")
	if page := b.text(t, "main"); !strings.Contains(page, "Signed in (code sent by email)") {
		t.Errorf("the sign-in history does not show the emailed code: %q", page)
	}
}
