package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
)

// TestDetectionInBrowser (CP-8.2, CP-3.2, CP-8.1), on SQLite and
// PostgreSQL: credential stuffing recorded by sign-in raises an alert that
// the security team sees, the network is refused with 429 until the team
// undoes the throttle; a sign-in with the right password from the other
// side of the world minutes after one at home is blocked, and its owner is
// told why.
func TestDetectionInBrowser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { detectionFlow(t, tc.extra(t)...) })
	}
}

func detectionFlow(t *testing.T, extra ...string) {
	root := chromium(t)
	mail := mailtest.Start(t)
	// The browser's requests come through a "proxy" on loopback, which
	// names the client's address (X-Forwarded-For).
	cfg := e2eConfig(t, mail.URL(), append(extra, "--trusted-proxies", "127.0.0.1/32")...)
	r := startApp(t, cfg)
	base := r.URL()
	ids := identityFor(t, r, cfg)
	ctx := context.Background()

	// The security team exists before the attack: it is told of it.
	sec := newTab(t, root, "security", base, false, "")
	sec.open(t, "/security")
	ua := js[string](t, sec, `navigator.userAgent`)
	token, _ := signedIn(t, r.Storage(), ids, "sec.e2e@example.test", access.RoleSecurity, ua)
	sec.setSession(t, token)

	// A stuffing run from 203.0.113.0/24: 25 addresses without accounts.
	for i := range 25 {
		ip := fmt.Sprintf("203.0.113.%d", 10+i%7)
		_, err := ids.Login(audit.WithRequest(ctx, audit.Request{IP: ip}), identity.Credentials{Email: fmt.Sprintf("victim%d@example.test", i), Password: "hunter2-hunter2",
			IP: ip, UserAgent: "python-requests/2.32"})
		if err == nil {
			t.Fatal("an unknown address signed in")
		}
	}

	// The detector follows the trail about once a second.
	deadline := time.Now().Add(20 * time.Second)
	for {
		sec.open(t, "/security/alerts")
		if slices.Contains(sec.texts(t, "tbody td a"), "credential_stuffing") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no credential_stuffing alert on the queue: %v", sec.texts(t, "tbody td"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The security team was told by email.
	mail.WaitFor(t, func(m mailtest.Message) bool {
		return slices.Contains(m.To, "sec.e2e@example.test") && strings.HasPrefix(m.Subject, "Security alert: credential_stuffing")
	}, 15*time.Second)

	// The dashboard: four charts drawn on the server, and the feed, which
	// shows a new event without a reload; nothing wider than a phone.
	sec.open(t, "/security/dashboard")
	if n := js[int](t, sec, `document.querySelectorAll("figure.chart svg[role=img]").length`); n != 4 {
		t.Errorf("the dashboard shows %d charts, want 4", n)
	}
	// The rules' own events (the alert, the throttle) may still arrive:
	// count the failed sign-ins shown.
	const failures = `Array.from(document.querySelectorAll("ol[data-feed] li[data-id]")).filter(function (li) { return li.textContent.indexOf("login.failure") >= 0 }).length`
	before := js[int](t, sec, failures)
	time.Sleep(time.Second) // the stream is open
	lost := "lost.e2e@example.test"
	ids.Login(audit.WithRequest(ctx, audit.Request{IP: "198.51.100.77"}), identity.Credentials{Email: lost, Password: "not-my-password-1", IP: "198.51.100.77"})
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if n := js[int](t, sec, failures); n > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the live feed did not show the new failed sign-in without a reload")
		}
	}
	sec.emulate(t, sec.ctx, "light", 390)
	if w := js[int](t, sec, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the dashboard is %dpx wide on a 390px phone", w)
	}
	sec.emulate(t, sec.ctx, "light", 1280)

	// The attacker's network is refused, with Retry-After.
	attacker := newTab(t, root, "attacker", base, true, "")
	setClientIP(t, attacker, "203.0.113.99")
	defer attacker.expectConsole("429")()
	attacker.open(t, "/login")
	status := attacker.submit(t, `form[action="/login"] button[type=submit]`, field{"#email", "victim99@example.test"}, field{"#password", "hunter2-hunter2"})
	if status != 429 || !strings.Contains(attacker.text(t, "main"), "Too many sign-in attempts have come from your network") {
		t.Fatalf("throttled network: status %d, page %q", status, attacker.text(t, "main"))
	}

	// The team opens the alert, sees its evidence and undoes the throttle.
	sec.open(t, "/security/alerts")
	sec.submit(t, `tbody td a`)
	if n := len(sec.texts(t, `section table tbody tr`)); n < 20 {
		t.Errorf("the alert shows %d evidence events, want at least 20", n)
	}
	sec.submit(t, `form[action$="/undo"] button`)
	if !strings.Contains(sec.text(t, "main"), "The automatic response was undone.") {
		t.Fatalf("undo: %q", sec.text(t, "main"))
	}
	attacker.open(t, "/login")
	status = attacker.submit(t, `form[action="/login"] button[type=submit]`, field{"#email", "victim99@example.test"}, field{"#password", "hunter2-hunter2"})
	if status == 429 {
		t.Fatal("the network is still throttled after the undo")
	}
	// Dismissing needs a reason.
	unprocessable := sec.expectConsole("422")
	sec.submit(t, `button[value="dismissed"]`)
	unprocessable()
	if !strings.Contains(sec.text(t, "main"), "Say why the alert is dismissed") {
		t.Fatalf("dismissed without a reason: %q", sec.text(t, "main"))
	}
	sec.submit(t, `button[value="dismissed"]`, field{"#reason", "our own penetration test"})
	if !strings.Contains(sec.text(t, "main"), "dismissed: our own penetration test") {
		t.Fatalf("dismissal: %q", sec.text(t, "main"))
	}

	// Impossible travel: signed in from France, then minutes later the
	// right password from Japan on another device. Blocked; the one who
	// tried learns nothing; the owner is told why.
	const owner = "traveller.e2e@example.test"
	ownerToken, _ := signedInFrom(t, r.Storage(), ids, owner, access.RoleCustomer, ua, "193.51.0.1")
	thief := newTab(t, root, "thief", base, true, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	setClientIP(t, thief, "133.242.0.1")
	thief.open(t, "/login")
	thief.submit(t, `form[action="/login"] button[type=submit]`, field{"#email", owner}, field{"#password", "velvet-harbour-quietly-92-lanterns"})
	if thief.sessionCookie(t) || !strings.Contains(thief.text(t, "main"), "do not match an account that can sign in now") {
		t.Fatalf("high-risk sign-in not blocked: %q", thief.text(t, "main"))
	}
	m := mail.WaitFor(t, func(m mailtest.Message) bool {
		return slices.Contains(m.To, owner) && m.Subject == "We stopped a sign-in to your account"
	}, 15*time.Second)
	if !strings.Contains(m.Text, "too far from the last sign-in") || !strings.Contains(m.Text, "133.242.0.1") {
		t.Errorf("the owner is not told why: %q", m.Text)
	}

	// The owner sees on the security page which sign-in was stopped and
	// why, and says it was not them: the security team gets an alert
	// naming the risk, and the report is in their queue.
	home := newTab(t, root, "owner", base, true, "")
	setClientIP(t, home, "193.51.0.1")
	home.setSession(t, ownerToken)
	home.open(t, "/account/security")
	row := ""
	for _, r := range home.texts(t, "#history tbody tr") {
		if strings.Contains(r, "Stopped") {
			row = r
		}
	}
	if !strings.Contains(row, "high risk") || !strings.Contains(row, "too far from the last sign-in") {
		t.Fatalf("the security page does not show the stopped sign-in and why: %q", home.texts(t, "#history tbody tr"))
	}
	home.submit(t, `#history tbody tr:first-child form[action="/account/report"] button`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		sec.open(t, "/security/alerts")
		if slices.Contains(sec.texts(t, "tbody td a"), "customer_report") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no customer_report alert: %v", sec.texts(t, "tbody td"))
		}
	}
	if !strings.Contains(sec.text(t, "main"), "had scored that sign-in high risk") || !strings.Contains(sec.text(t, "main"), "a sign-in reported") {
		t.Errorf("the queue does not show the report and its risk: %q", sec.text(t, "main"))
	}
}

// setClientIP makes the tab's requests name ip as the client, as a
// trusted reverse proxy would.
func setClientIP(t *testing.T, b *tab, ip string) {
	t.Helper()
	if _, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Forwarded-For": ip}}); err != nil {
		t.Fatal(err)
	}
}
