package app_test

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/session"
)

// e2ePolicy is the policy override of the end-to-end test: cheap argon2,
// and a lockout after 3 failures so that the lock is reached before the
// back-off (which starts at the third failure) gets in the way.
const e2ePolicy = cheapPolicy + `
[lockout]
threshold = 3
`

// e2eConfig starts Portico on localhost (passkeys need a domain name, not
// an address) with mail going to the test's SMTP server.
func e2eConfig(t *testing.T, smtpURL string, extra ...string) config.Config {
	t.Helper()
	policyFile := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policyFile, []byte(e2ePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--data-dir", t.TempDir(),
		"--addr", "localhost:0",
		"--policy-file", policyFile,
		"--shutdown-timeout", "10s",
		"--smtp-url", smtpURL,
	}, extra...)
	cfg, err := config.NewLoader("serve", "", config.Storage|config.Policy|config.Server, io.Discard).
		Load(args, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// authenticator is the test's authenticator app: it computes codes from
// the key shown at enrolment and remembers the newest step the server has
// accepted, which is never accepted again.
type authenticator struct {
	secret string
	last   int64
}

const totpPeriod = 30

func (a *authenticator) codeAt(step int64) string {
	c, err := totp.GenerateCode(a.secret, time.Unix(step*totpPeriod, 0))
	if err != nil {
		panic(err)
	}
	return c
}

// next returns a code the server accepts now (RFC 6238 with one step of
// tolerance either side) and has not seen: of the current step or the
// next, waiting for the clock when both are spent.
func (a *authenticator) next(t *testing.T) (string, int64) {
	t.Helper()
	now := time.Now().Unix() / totpPeriod
	step := max(a.last+1, now)
	if step > now+1 {
		wait := time.Until(time.Unix((step-1)*totpPeriod, 0)) + 500*time.Millisecond
		t.Logf("waiting %v for a fresh TOTP step", wait.Round(time.Second))
		time.Sleep(wait)
	}
	return a.codeAt(step), step
}

// steps runs the steps of one flow in order; once a step stops with
// t.Fatal the later ones are skipped, since they build on it. A step that
// only reports errors (t.Error) lets the flow go on.
type steps struct {
	t      *testing.T
	broken string
}

func (s *steps) run(name string, fn func(t *testing.T)) {
	s.t.Helper()
	if s.broken != "" {
		s.t.Run(name, func(t *testing.T) { t.Skipf("skipped: step %q failed", s.broken) })
		return
	}
	finished := false
	s.t.Run(name, func(t *testing.T) {
		fn(t)
		finished = true
	})
	if !finished {
		s.broken = name
	}
}

// TestIdentityEndToEnd drives the identity issue through real Chromium
// against the whole program, on SQLite and on PostgreSQL, with mail read
// from a real SMTP server: sign-up with the privacy notice accepted
// (MTL-2.1.2), restricted mode until a second factor is enrolled, TOTP
// with replay refused, passkeys as second factor and passwordless
// (CP-4.1, MTL-3.1.2), sessions ended from another device and by a reset
// (CP-6.3), lockout with the generic answer and the owner told (CP-8.2),
// the password policy (CP-4.3) and the security notices. Every page is
// checked for CSP violations and console errors.
func TestIdentityEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := tc.extra(t)
			start := time.Now()
			identityFlow(t, extra...)
			t.Logf("%s: the flow took %v", tc.name, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

func identityFlow(t *testing.T, extra ...string) {
	root := chromium(t)
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL(), extra...)
	r := startApp(t, cfg)
	base := r.URL()
	if !strings.HasPrefix(base, "https://localhost:") {
		t.Fatalf("URL = %s, want https://localhost:PORT", base)
	}
	ids := identityFor(t, r, cfg)
	d := r.Storage().DB
	ctx := context.Background()

	// Tab one is this person's computer (with a platform passkey);
	// tab two is another device of theirs, in its own browser context.
	one := newTab(t, root, "computer", base, false, "")
	one.addAuthenticator(t)
	two := newTab(t, root, "phone", base, true,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0")

	const (
		name      = "Ada Lovelace"
		email     = "ada.e2e@example.test"
		password  = "velvet-harbour-quietly-92-lanterns"
		password2 = "granite-meadow-shuffles-47-kites"
		generic   = "That email address and password do not match an account that can sign in now. Check them and try again, or reset your password."
	)
	waitMail := func(t *testing.T, to, subject string) mailtest.Message {
		t.Helper()
		return mail.WaitFor(t, func(m mailtest.Message) bool {
			return slices.Contains(m.To, to) && m.Subject == subject
		}, 15*time.Second)
	}
	login := func(t *testing.T, b *tab, email, pw string) int64 {
		t.Helper()
		if b.path(t) != "/login" {
			b.open(t, "/login")
		}
		return b.submit(t, `form[action="/login"] button[type=submit]`, field{"#email", email}, field{"#password", pw})
	}
	logout := func(t *testing.T, b *tab) {
		t.Helper()
		b.submit(t, `header form[action="/logout"] button`)
		b.wantPath(t, "/login?done=signed-out")
		if b.sessionCookie(t) {
			t.Errorf("%s: the session cookie outlived sign-out", b.name)
		}
	}
	accountID := func(t *testing.T) string {
		t.Helper()
		a, err := ids.FindByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	liveSessions := func(t *testing.T) int {
		t.Helper()
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND ended_at IS NULL`, accountID(t)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	var (
		authApp  authenticator
		recovery []string
		privacy  string
		s        = &steps{t: t}
	)

	s.run("1 sign up through the form (MTL-2.1.2)", func(t *testing.T) {
		one.open(t, "/signup")
		privacy = js[string](t, one, `document.getElementById("privacy").value`)
		if privacy == "" {
			t.Fatal("the privacy checkbox names no notice version")
		}
		if rules := one.texts(t, "#password-rules li"); len(rules) == 0 {
			t.Error("the password rules are not shown before typing (CP-4.3)")
		}
		one.action(t, "tick the privacy notice", chromedp.Click(chromedp.CSS("#privacy")))
		one.submit(t, `form[action="/signup"] button[type=submit]`,
			field{"#name", name}, field{"#email", email}, field{"#password", password})
		if h := one.text(t, "h1"); h != "Check your email" {
			t.Fatalf("after sign-up: h1 %q, alert %q", h, one.text(t, "[role=alert]"))
		}
	})

	s.run("2 verify the address from the mail and be signed in, owing a factor", func(t *testing.T) {
		m := waitMail(t, email, "Confirm your email address for Portico")
		link := m.URL(base + "/verify/")
		if link == "" {
			t.Fatalf("no verification link in %q", m.Text)
		}
		one.open(t, link)
		// Confirming needs the password chosen at sign-up: whoever opens
		// the link without it confirms nothing.
		done := one.expectConsole("status of 422")
		one.submit(t, `form[action^="/verify/"] button[type=submit]`, field{"#password", "not the password at all 99"})
		if a := one.text(t, "[role=alert]"); !strings.Contains(a, "not the password chosen") {
			t.Errorf("confirming with a wrong password: alert %q", a)
		}
		done()
		one.submit(t, `form[action^="/verify/"] button[type=submit]`, field{"#password", password})
		one.wantPath(t, "/account/mfa/setup?done=verified-signed-in")
		if f := one.text(t, ".flash"); !strings.Contains(f, "confirmed and you are signed in") {
			t.Errorf("flash = %q", f)
		}
		var version string
		var at sql.NullTime
		if err := d.QueryRowContext(ctx, `SELECT privacy_version, privacy_accepted_at FROM accounts WHERE id = $1`, accountID(t)).Scan(&version, &at); err != nil {
			t.Fatal(err)
		}
		if version != privacy || !at.Valid {
			t.Errorf("privacy acceptance recorded as %q at %v, want %q with a time (MTL-2.1.2)", version, at, privacy)
		}
		// The link is single use.
		one.open(t, link)
		if one.has(t, `form[action^="/verify/"]`) {
			t.Error("the verification link works twice")
		}
	})

	s.run("3 password sign-in lands in restricted mode until a factor is enrolled (CP-4.1, CP-12)", func(t *testing.T) {
		one.submit(t, `form[action="/logout"] button[type=submit]`)
		if status := login(t, one, email, password); status != 200 {
			t.Errorf("status %d", status)
		}
		one.wantPath(t, "/account/mfa/setup")
		if c := one.cookie(t, session.CookieName); c == nil {
			t.Error("no session cookie after the password step")
		} else if !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Domain != "localhost" {
			t.Errorf("session cookie: secure %v, httponly %v, samesite %q, path %q, domain %q (CP-6.3: __Host-, Secure, HttpOnly, SameSite=Lax)",
				c.Secure, c.HTTPOnly, c.SameSite, c.Path, c.Domain)
		}
		if note := one.text(t, ".note"); !strings.Contains(note, "must have a second factor") {
			t.Errorf("restricted-mode note = %q", note)
		}
		if one.has(t, `nav a[href="/account"]`) {
			t.Error("restricted mode shows the account navigation")
		}
		for _, p := range []string{"/account", "/account/security", "/account/notices", "/account/password"} {
			one.open(t, p)
			if got := one.path(t); got != "/account/mfa/setup" {
				t.Errorf("restricted mode: %s went to %s, want /account/mfa/setup", p, got)
			}
		}
	})

	s.run("4 enrol TOTP, see 10 recovery codes once, then the account opens (CP-4.1, MTL-3.1.2)", func(t *testing.T) {
		one.open(t, "/account/mfa/setup")
		one.submit(t, `form[action="/account/mfa/totp/start"] button[type=submit]`)
		one.wantPath(t, "/account/mfa/setup")
		key := strings.ReplaceAll(one.text(t, "code.secret"), " ", "")
		if len(key) != 32 {
			t.Fatalf("TOTP key %q: want 32 base32 characters (160 bits)", key)
		}
		if src := js[string](t, one, `document.querySelector("img.qr").getAttribute("src")`); !strings.HasPrefix(src, "data:image/png;base64,") {
			t.Errorf("QR code src = %.40q, want a PNG made by the server", src)
		}
		authApp.secret = key
		// On the phone itself: a link that opens the authenticator app
		// with the same key.
		if href := js[string](t, one, `(document.querySelector('a[href^="otpauth://totp/"]')||{}).href||""`); !strings.Contains(href, "secret="+key) {
			t.Errorf("otpauth link %q does not carry the key", href)
		}
		// A wrong code first: the form again, with 422 (which Chromium
		// logs as a failed load).
		done := one.expectConsole("status of 422")
		one.submit(t, `form[action="/account/mfa/totp/confirm"] button[type=submit]`, field{"#code", "000000"})
		if a := one.text(t, "[role=alert]"); !strings.Contains(a, "not right") {
			t.Errorf("a wrong enrolment code: alert %q", a)
		}
		done()
		// A phone a little slow: the code of the previous step, which the
		// server still accepts. Away from a step boundary so it stays so.
		if rem := totpPeriod - time.Now().Unix()%totpPeriod; rem < 3 {
			time.Sleep(time.Duration(rem) * time.Second)
		}
		step := time.Now().Unix()/totpPeriod - 1
		one.submit(t, `form[action="/account/mfa/totp/confirm"] button[type=submit]`, field{"#code", authApp.codeAt(step)})
		authApp.last = step
		if h := one.text(t, "h1"); h != "Your recovery codes" {
			t.Fatalf("after confirming: h1 %q, alert %q", h, one.text(t, "[role=alert]"))
		}
		recovery = one.texts(t, "ol.codes code")
		if len(recovery) != 10 || len(slices.Compact(slices.Sorted(slices.Values(recovery)))) != 10 {
			t.Fatalf("recovery codes = %q, want 10 distinct", recovery)
		}
		for _, c := range recovery {
			if len(strings.ReplaceAll(c, " ", "")) < 16 { // 16 base32 characters: 80 bits
				t.Errorf("recovery code %q is shorter than 80 bits", c)
			}
		}
		// Copy, download and print are offered (the script shows them),
		// and the download holds the ten codes.
		for _, sel := range []string{"button[data-copy]", "button[data-download]", "button[data-print]"} {
			if !js[bool](t, one, `(function(b){return !!b && !b.hidden})(document.querySelector('`+sel+`'))`) {
				t.Errorf("%s is not offered", sel)
			}
		}
		dl := t.TempDir()
		if _, err := chromedp.Call(one.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(one.ctx, chromedp.Click(chromedp.CSS("button[data-download]"))); err != nil {
			t.Fatal(err)
		}
		var saved []byte
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && saved == nil; time.Sleep(100 * time.Millisecond) {
			saved, _ = os.ReadFile(filepath.Join(dl, "portico-recovery-codes.txt"))
		}
		for _, c := range recovery {
			if !strings.Contains(string(saved), c) {
				t.Errorf("the downloaded file lacks code %q:\n%s", c, saved)
				break
			}
		}
		one.submit(t, `a.button[href^="/account/security"]`)
		one.wantPath(t, "/account/security?done=totp-added")
		if h := one.text(t, "h1"); h != "Security" {
			t.Errorf("h1 = %q", h)
		}
		if f := one.text(t, "#factors"); !strings.Contains(f, "Authenticator app: on") || !strings.Contains(f, "Recovery codes: 10 left") {
			t.Errorf("factors panel = %q", f)
		}
		one.open(t, "/account")
		if h := one.text(t, "h1"); h != "Hello, "+name {
			t.Errorf("/account h1 = %q", h)
		}
	})

	s.run("5 sign out ends the session", func(t *testing.T) {
		logout(t, one)
		one.open(t, "/account")
		one.wantPath(t, "/login?next=%2Faccount")
	})

	s.run("6 password and TOTP; a replayed code is refused, the next one works (CP-4.1)", func(t *testing.T) {
		login(t, one, email, password)
		one.wantPath(t, "/login/mfa")
		code, step := authApp.next(t)
		one.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", code})
		one.wantPath(t, "/account")
		authApp.last = step
		logout(t, one)

		login(t, one, email, password)
		one.wantPath(t, "/login/mfa")
		if status := one.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", code}); status != 200 {
			t.Errorf("replayed code: status %d, want the form again with 200", status)
		}
		one.wantPath(t, "/login/mfa")
		if a := one.text(t, "[role=alert]"); !strings.Contains(a, "already used") {
			t.Errorf("replayed code: alert %q", a)
		}
		one.open(t, "/account")
		one.wantPath(t, "/login/mfa")

		code, step = authApp.next(t)
		one.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", code})
		one.wantPath(t, "/account")
		authApp.last = step
	})

	passkeyScript := func(t *testing.T, b *tab) {
		t.Helper()
		if !b.passkeyScriptRan(t) {
			t.Errorf("BUG: %s: passkey.js is not loaded on %s: its passkey form stays hidden, so passkeys cannot be used (loading it by hand to test the rest)", b.name, b.path(t))
			b.loadPasskeyScript(t)
		}
		if !b.has(t, `form[data-passkey]:not([hidden])`) {
			t.Fatalf("%s: no passkey form shown on %s", b.name, b.path(t))
		}
	}

	s.run("7a adding a passkey asks for the password again after 5 minutes (CP-6.3 step-up)", func(t *testing.T) {
		// The sign-in is more than five minutes old.
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE sessions SET reauth_at = $1 WHERE account_id = $2 AND ended_at IS NULL`,
				db.Time(time.Now().Add(-6*time.Minute)), accountID(t))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// The page offers the re-authentication instead of the form...
		one.open(t, "/account/mfa/setup")
		if one.has(t, `form[data-passkey="register"]`) || !one.has(t, `a[href^="/account/reauth"]`) {
			t.Fatal("a stale session is shown the passkey form instead of a link to confirm the password")
		}
		// ...and the server refuses a ceremony started anyway.
		done := one.expectConsole("403")
		status := jsAwait[string](t, one, `(async () => {
			const token = document.querySelector('input[name="csrf_token"]').value;
			const r = await fetch("/account/passkeys/begin", {method: "POST", credentials: "same-origin",
				headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "csrf_token=" + encodeURIComponent(token)});
			const j = await r.json();
			return r.status + " " + j.error;
		})()`)
		time.Sleep(500 * time.Millisecond) // the failed request's console line
		if !strings.HasPrefix(status, "403 ") || !strings.Contains(status, "confirm your password") {
			t.Fatalf("stale session starting a passkey ceremony: %q", status)
		}
		if len(one.credentials(t)) != 0 {
			t.Error("a passkey was created without the step-up")
		}
		one.consoleClean(t, "/account/mfa/setup") // takes the expected 403 line
		done()
		one.action(t, "follow the link", chromedp.Click(chromedp.CSS(`a[href^="/account/reauth"]`)), chromedp.WaitReady(chromedp.CSS("h1")))
		if h := one.text(t, "h1"); h != "Confirm it is you" {
			t.Fatalf("reauth h1 = %q", h)
		}
		done = one.expectConsole("status of 422")
		one.submit(t, `form[action="/account/reauth"] button[type=submit]`, field{"#password", "not-the-password-at-all-1"})
		if a := one.text(t, "[role=alert]"); !strings.Contains(a, "not right") {
			t.Errorf("a wrong step-up password: alert %q", a)
		}
		done()
		one.submit(t, `form[action="/account/reauth"] button[type=submit]`, field{"#password", password})
		one.wantPath(t, "/account/mfa/setup")
	})

	s.run("7b add a passkey, named, listed on the security page (MTL-3.1.2)", func(t *testing.T) {
		passkeyScript(t, one)
		one.action(t, "name the passkey", chromedp.SetValue(chromedp.CSS("#passkey-name"), "E2E laptop"))
		got := one.ceremony(t, `form[data-passkey="register"] button[type=submit]`, `form[data-passkey="register"]`)
		if got != "nav:/account/security?done=passkey-added" {
			t.Fatalf("adding a passkey: %q", got)
		}
		if f := one.text(t, "#factors"); !strings.Contains(f, "Passkeys: 1") || !strings.Contains(f, "E2E laptop") {
			t.Errorf("factors panel = %q", f)
		}
		if c := one.credentials(t); len(c) != 1 || !c[0].IsResidentCredential {
			t.Errorf("the authenticator holds %d credentials, want one discoverable", len(c))
		}
		logout(t, one)
	})

	s.run("7c sign in with the passkey as the second factor (CP-4.1)", func(t *testing.T) {
		login(t, one, email, password)
		one.wantPath(t, "/login/mfa")
		passkeyScript(t, one)
		if got := one.ceremony(t, `form[data-passkey="login"] button[type=submit]`, `form[data-passkey="login"]`); got != "nav:/account" {
			t.Fatalf("passkey as second factor: %q", got)
		}
		logout(t, one)
	})

	s.run("7d sign in passwordless with a passkey", func(t *testing.T) {
		one.open(t, "/login")
		passkeyScript(t, one)
		if got := one.ceremony(t, `form[data-passkey="login"] button[type=submit]`, `form[data-passkey="login"]`); got != "nav:/account" {
			t.Fatalf("passwordless: %q", got)
		}
		if h := one.text(t, "h1"); h != "Hello, "+name {
			t.Errorf("h1 = %q", h)
		}
	})

	s.run("8 end the other device's session from the security page (CP-6.3)", func(t *testing.T) {
		login(t, two, email, password)
		two.wantPath(t, "/login/mfa")
		two.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", recovery[0]})
		two.wantPath(t, "/account")
		// A recovery code is single use.
		logout(t, two)
		login(t, two, email, password)
		two.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", recovery[0]})
		two.wantPath(t, "/login/mfa")
		two.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", recovery[1]})
		two.wantPath(t, "/account")

		one.open(t, "/account/security")
		if f := one.text(t, "#factors"); !strings.Contains(f, "Recovery codes: 8 left") {
			t.Errorf("after two recovery codes were used: factors panel %q", f)
		}
		history := strings.Join(one.texts(t, "#history tbody tr"), "\n")
		for _, want := range []string{"Failed (wrong second-factor code)", "Signed in (passkey)", "Signed in (authenticator app)", "Signed in (recovery code)", "Firefox"} {
			if !strings.Contains(history, want) {
				t.Errorf("recent sign-ins lack %q:\n%s", want, history)
			}
		}
		if rows := one.texts(t, "#sessions tbody tr"); len(rows) != 2 {
			t.Fatalf("sessions listed: %q, want this one and the phone's", rows)
		}
		if rows := one.texts(t, `#sessions tbody tr:has(form[action$="/end"]) td:first-child`); len(rows) != 1 || !strings.Contains(rows[0], "Firefox") {
			t.Errorf("the other session's device: %q", rows)
		}
		one.submit(t, `#sessions form[action$="/end"] button[type=submit]`)
		one.wantPath(t, "/account/security?done=session-ended")
		if rows := one.texts(t, "#sessions tbody tr"); len(rows) != 1 {
			t.Errorf("sessions listed after ending one: %q", rows)
		}
		two.open(t, "/account")
		two.wantPath(t, "/login?next=%2Faccount")
		if two.sessionCookie(t) {
			t.Error("the ended session's cookie stayed in the browser")
		}
		one.open(t, "/account")
		one.wantPath(t, "/account")

		// "Sign out everywhere else" ends the others and keeps this one.
		login(t, two, email, password)
		two.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", recovery[2]})
		two.wantPath(t, "/account")
		one.open(t, "/account/security")
		one.submit(t, `form[action="/account/sessions/end-others"] button[type=submit]`)
		one.wantPath(t, "/account/security?done=sessions-ended")
		two.open(t, "/account")
		two.wantPath(t, "/login?next=%2Faccount")
		if n := liveSessions(t); n != 1 {
			t.Errorf("%d sessions live after ending the others, want 1", n)
		}
	})

	s.run("9 reset the password by mail: every session ends, MFA is still asked (CP-4.3, CP-4.1)", func(t *testing.T) {
		two.open(t, "/reset")
		two.submit(t, `form[action="/reset"] button[type=submit]`, field{"#email", email})
		if p := two.text(t, "main .form p"); !strings.Contains(p, "If an account uses that address") {
			t.Errorf("after asking for a reset: %q", p)
		}
		m := waitMail(t, email, "Reset your Portico password")
		link := m.URL(base + "/reset/")
		if link == "" {
			t.Fatalf("no reset link in %q", m.Text)
		}
		two.open(t, link)
		if h := two.text(t, "h1"); h != "Choose a new password" {
			t.Fatalf("reset page h1 = %q", h)
		}
		// The policy still applies: the old password is in the history.
		done := two.expectConsole("status of 422")
		two.submit(t, `form[action^="/reset/"] button[type=submit]`, field{"#password", password}, field{"#confirm", password})
		if a := two.text(t, "[role=alert]"); !strings.Contains(a, "used this password recently") {
			t.Errorf("the current password as the new one: alert %q", a)
		}
		done()
		two.submit(t, `form[action^="/reset/"] button[type=submit]`, field{"#password", password2}, field{"#confirm", password2})
		two.wantPath(t, "/login?done=password-reset")

		if n := liveSessions(t); n != 0 {
			t.Errorf("%d sessions live after the reset", n)
		}
		one.open(t, "/account")
		one.wantPath(t, "/login?next=%2Faccount")
		two.open(t, link)
		if two.has(t, `form[action^="/reset/"]`) {
			t.Error("the reset link works twice")
		}

		login(t, one, email, password)
		one.wantPath(t, "/login")
		if a := one.text(t, "[role=alert]"); a != generic {
			t.Errorf("the old password: alert %q", a)
		}
		// A recovery code, not the app: the next TOTP step may be a
		// while away, and either is the second factor.
		login(t, two, email, password2)
		two.wantPath(t, "/login/mfa")
		two.submit(t, `form[action="/login/mfa"] button[type=submit]`, field{"#code", recovery[3]})
		two.wantPath(t, "/account")
	})

	s.run("10 lockout after 3 failures: the right password is refused the same way, the owner is told (CP-8.2)", func(t *testing.T) {
		const lockEmail, lockPassword = "grace.e2e@example.test", "orchid-ledger-tumbles-85-rivers"
		locked, err := ids.CreateAccount(ctx, identity.NewAccount{Email: lockEmail, Name: "Grace Hopper", Role: access.RoleCustomer, Password: lockPassword})
		if err != nil {
			t.Fatal(err)
		}
		login(t, one, "nobody.e2e@example.test", lockPassword)
		if a := one.text(t, "[role=alert]"); a != generic {
			t.Errorf("unknown address: alert %q", a)
		}
		for i := range 3 {
			if status := login(t, one, lockEmail, "wrong-password-attempt-"+string(rune('a'+i))); status != 200 {
				t.Errorf("failure %d: status %d, want 200", i+1, status)
			}
			one.wantPath(t, "/login")
			if a := one.text(t, "[role=alert]"); a != generic {
				t.Errorf("failure %d: alert %q", i+1, a)
			}
		}
		if status := login(t, one, lockEmail, lockPassword); status != 200 {
			t.Errorf("locked, right password: status %d, want 200", status)
		}
		one.wantPath(t, "/login")
		if a := one.text(t, "[role=alert]"); a != generic {
			t.Errorf("locked, right password: alert %q, want the generic one", a)
		}
		m := waitMail(t, lockEmail, "Your account was locked after failed sign-in attempts")
		if !strings.Contains(m.Text, base+"/reset") || !strings.Contains(m.Text, "127.0.0.1") || !strings.Contains(m.Text, "UTC") {
			t.Errorf("the lockout mail does not say when, from where and how to get back in: %q", m.Text)
		}
		var inbox int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM notices WHERE account_id = $1 AND kind = 'lockout'`, locked.ID).Scan(&inbox); err != nil {
			t.Fatal(err)
		}
		if inbox != 1 {
			t.Errorf("%d lockout notices in the locked account's inbox, want 1", inbox)
		}

		// A reset lifts the lock.
		one.open(t, "/reset")
		one.submit(t, `form[action="/reset"] button[type=submit]`, field{"#email", lockEmail})
		m = waitMail(t, lockEmail, "Reset your Portico password")
		one.open(t, m.URL(base+"/reset/"))
		const newLockPassword = "saffron-window-climbs-63-ferns"
		one.submit(t, `form[action^="/reset/"] button[type=submit]`, field{"#password", newLockPassword}, field{"#confirm", newLockPassword})
		one.wantPath(t, "/login?done=password-reset")
		login(t, one, lockEmail, newLockPassword)
		one.wantPath(t, "/account/mfa/setup")
		logout(t, one)
	})

	s.run("11 security notices arrive by mail and in the inbox", func(t *testing.T) {
		subjects := []string{
			"An authenticator app was added to your account",
			"A passkey was added to your account",
			"New sign-in to your account",
			"A recovery code was used to sign in",
			"Your password was changed",
		}
		for _, subject := range subjects {
			m := waitMail(t, email, subject)
			if !strings.Contains(m.Text, "UTC") {
				t.Errorf("%q does not say when: %q", subject, m.Text)
			}
		}
		if m := waitMail(t, email, "New sign-in to your account"); !strings.Contains(m.Text, "Firefox") {
			t.Errorf("the new sign-in notice does not name the device: %q", m.Text)
		}
		var newSignIns int
		for _, m := range mail.Messages() {
			if slices.Contains(m.To, email) && m.Subject == "New sign-in to your account" {
				newSignIns++
			}
		}
		if newSignIns != 1 {
			t.Errorf("%d new-sign-in notices; want 1: the phone signed in four times, but it was new only once", newSignIns)
		}
		two.open(t, "/account/notices")
		titles := two.texts(t, "article.notice h2")
		for _, subject := range subjects {
			if !slices.Contains(titles, subject) {
				t.Errorf("the inbox lacks %q (has %q)", subject, titles)
			}
		}
	})

	one.consoleClean(t, "the end")
	two.consoleClean(t, "the end")
}
