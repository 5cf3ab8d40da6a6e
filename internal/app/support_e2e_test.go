package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/session"
)

// TestSupportRevealInBrowser drives the support desk in Chromium (MTL-3.2.1,
// MTL-3.2.2): an agent finds a customer and sees them masked, reveals the
// email address with a reason and sees it, and the customer finds the
// reveal, with the reason, in their access history. Every page is checked
// for CSP violations and console errors. On SQLite and PostgreSQL.
func TestSupportRevealInBrowser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { supportRevealFlow(t, tc.extra(t)...) })
	}
}

// signedIn makes an account with an authenticator app, signs it in with
// both factors as the browser would (same user agent, from loopback) and
// returns its session token.
func signedIn(t *testing.T, st *app.Storage, ids *identity.Service, email string, role access.Role, ua string) (string, string) {
	t.Helper()
	return signedInFrom(t, st, ids, email, role, ua, "127.0.0.1")
}

// signedInFrom is signedIn from the address ip.
func signedInFrom(t *testing.T, st *app.Storage, ids *identity.Service, email string, role access.Role, ua, ip string) (string, string) {
	t.Helper()
	ctx := context.Background()
	const pw = "velvet-harbour-quietly-92-lanterns"
	a, err := ids.CreateAccount(ctx, identity.NewAccount{Email: email, Role: role, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := ids.StartTOTP(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	e, _, err := ids.PendingTOTP(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.ReplaceAll(e.Secret, " ", "")
	code, _ := totp.GenerateCode(secret, time.Now())
	if _, err := ids.ConfirmTOTP(ctx, a.ID, code); err != nil {
		t.Fatal(err)
	}
	res, err := ids.Login(ctx, identity.Credentials{Email: email, Password: pw, IP: ip, UserAgent: ua})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := session.NewStore(st.DB, st.Keyring, st.Audit, st.Profile.Session).Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	code, _ = totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	res, err = ids.VerifySecondFactor(ctx, sess, code, ip, ua)
	if err != nil {
		t.Fatal(err)
	}
	return res.Token, a.ID
}

func (b *tab) setSession(t *testing.T, token string) {
	t.Helper()
	_, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{
		Name: session.CookieName, Value: token, URL: b.base + "/", Path: "/", Secure: new(true), HTTPOnly: new(true), SameSite: network.CookieSameSiteLax})
	if err != nil {
		t.Fatal(err)
	}
}

func supportRevealFlow(t *testing.T, extra ...string) {
	root := chromium(t)
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL(), extra...)
	r := startApp(t, cfg)
	base := r.URL()
	ids := identityFor(t, r, cfg)

	agent := newTab(t, root, "agent", base, false, "")
	agent.open(t, "/security")
	ua := js[string](t, agent, `navigator.userAgent`)
	customer := newTab(t, root, "customer", base, true, "")

	const email = "jane.doe@example.test"
	custToken, custID := signedIn(t, r.Storage(), ids, email, access.RoleCustomer, ua)
	if err := ids.SetContact(context.Background(), custID, "Jane Doe", "+44 20 7946 0958"); err != nil {
		t.Fatal(err)
	}
	agentToken, _ := signedIn(t, r.Storage(), ids, "agent.e2e@example.test", access.RoleSupport, ua)
	agent.setSession(t, agentToken)
	customer.setSession(t, custToken)

	// The agent finds the customer: masked.
	agent.open(t, "/desk")
	agent.submit(t, `form[action="/desk/customers"] button`, field{"#email", email})
	if !strings.HasPrefix(agent.path(t), "/desk/customers/") {
		t.Fatalf("lookup landed on %s", agent.path(t))
	}
	if got := agent.text(t, `.masked[data-field=email]`); got != "j***@example.test" {
		t.Fatalf("masked email %q", got)
	}
	if got := agent.text(t, `.masked[data-field=phone]`); got != "*** ** 58" {
		t.Errorf("masked phone %q", got)
	}
	if strings.Contains(agent.text(t, "main"), email) {
		t.Fatal("the clear address is on the page before any reveal")
	}

	// Reveal the email with a reason.
	if err := chromedp.Do(agent.ctx, chromedp.Click(chromedp.CSS(`.masked[data-field=email] ~ details summary`))); err != nil {
		t.Fatal(err)
	}
	agent.submit(t, `form:has(#reason-email) button`, field{"#reason-email", "Sending the invoice the customer asked for on the phone"})
	if got := agent.text(t, `.revealed[data-field=email]`); got != email {
		t.Fatalf("revealed email %q (flash %q, alert %q)", got, agent.text(t, ".flash"), agent.text(t, "[role=alert]"))
	}
	if agent.has(t, `.revealed[data-field=phone]`) {
		t.Error("the phone was revealed too")
	}

	// MTL-3.2.2: past the step-up window, the next reveal asks for the
	// password, says what for, and then happens with the reason as typed.
	staleSessions(t, r)
	custPage := agent.path(t)
	if err := chromedp.Do(agent.ctx, chromedp.Click(chromedp.CSS(`.masked[data-field=phone] ~ details summary`))); err != nil {
		t.Fatal(err)
	}
	agent.submit(t, `form:has(#reason-phone) button`, field{"#reason-phone", "Calling back about the refund, as asked"})
	if p := agent.path(t); !strings.HasPrefix(p, "/account/reauth?action=") {
		t.Fatalf("a stale reveal landed on %s, want the password confirmation", p)
	}
	if got := agent.text(t, "main"); !strings.Contains(got, "to reveal this customer's details") {
		t.Errorf("the confirmation page does not say what it protects: %q", got)
	}
	agent.submit(t, `form[action="/account/reauth"] button[type=submit]`, field{"#password", "velvet-harbour-quietly-92-lanterns"})
	if p := agent.path(t); p != custPage {
		t.Fatalf("after the password: %s, want back on %s", p, custPage)
	}
	if got := agent.text(t, `.revealed[data-field=phone]`); got != "+44 20 7946 0958" {
		t.Fatalf("the held reveal: phone %q (flash %q)", got, agent.text(t, ".flash"))
	}

	// The customer sees who looked, and why.
	customer.open(t, "/account")
	customer.open(t, "/account/access-history")
	hist := customer.text(t, "main table")
	if !strings.Contains(hist, "Sending the invoice the customer asked for on the phone") || !strings.Contains(hist, "your email") ||
		!strings.Contains(hist, "Calling back about the refund, as asked") {
		t.Fatalf("access history: %q", hist)
	}
}
