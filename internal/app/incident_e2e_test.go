package app_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/session"
)

// TestIncidentInBrowser (CP-7.1, CP-7.2, CP-9.1, CP-9.2, MTL-5.1.1,
// MTL-5.1.2, MTL-5.2.1), on SQLite and PostgreSQL: one incident from
// alert to closure in Chromium. A customer's "this wasn't me" raises an
// alert; the security team opens an incident from it, finds the affected
// customer from the alert, ends their sessions, decides the breach, drafts
// and records the regulator's report, writes and sends the breach notice;
// the customer, signed in again, sees the banner and the notice and does
// a step, which the team sees counted; the team works the plan's
// checklists to closure and writes the review.
func TestIncidentInBrowser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { incidentFlow(t, tc.extra(t)...) })
	}
}

var incidentPath = regexp.MustCompile(`^/security/incidents/([a-z2-7]{26})`)

func incidentFlow(t *testing.T, extra ...string) {
	root := chromium(t)
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL(), extra...)
	r := startApp(t, cfg)
	base := r.URL()
	ids := identityFor(t, r, cfg)

	sec := newTab(t, root, "security", base, false, "")
	sec.open(t, "/security")
	ua := js[string](t, sec, `navigator.userAgent`)
	token, _ := signedIn(t, r.Storage(), ids, "sec.incident@example.test", access.RoleSecurity, ua)
	sec.setSession(t, token)

	const owner = "owner.incident@example.test"
	ownerToken, secret := enrolled(t, r, ids, owner, ua)
	home := newTab(t, root, "customer", base, true, "")
	home.setSession(t, ownerToken)

	// The customer says a sign-in was not them: an alert on the account.
	home.open(t, "/account/security")
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
	sec.submit(t, `tbody td a`)
	sec.submit(t, `a[href^="/security/incidents/new?source=alert:"]`)
	js[bool](t, sec, `document.querySelector('input[name="data"][value="Account identity"]').checked = true`)
	sec.submit(t, `form[action="/security/incidents"] button[type=submit]`,
		field{"#title", "Account taken over with a reused password"}, field{"#category", "account takeover"})
	m := incidentPath.FindStringSubmatch(sec.path(t))
	if m == nil || !strings.Contains(sec.text(t, "main"), "The incident is open") {
		t.Fatalf("no incident opened: %s %q", sec.path(t), sec.text(t, "main"))
	}
	incPath := "/security/incidents/" + m[1]
	if !strings.Contains(sec.text(t, "main"), "Tell the affected customers (from detection): due") {
		t.Errorf("the customers' clock is not counting down: %q", sec.text(t, "main"))
	}
	// The alert is marked escalated to it.
	if !strings.Contains(sec.text(t, "main"), "an alert") {
		t.Error("the incident does not link its alert")
	}
	sec.open(t, js[string](t, sec, `document.querySelector('a[href^="/security/alerts/"]').getAttribute("href")`))
	if !strings.Contains(sec.text(t, "main"), "Stateescalated") {
		t.Errorf("the alert is not escalated: %q", sec.text(t, "main"))
	}
	sec.open(t, incPath)

	// The affected customer, from the alert's accounts; then containment.
	sec.submit(t, `form[action$="/affected"] button[type=submit]`)
	if !strings.Contains(sec.text(t, "main"), "1 customer: the accounts of alert") {
		t.Fatalf("affected: %q", sec.text(t, "main"))
	}
	sec.submit(t, `form[action$="/contain"] input[value="end_sessions"] ~ button`)
	if !strings.Contains(sec.text(t, "main"), "Every session and API token of the affected customers has ended.") {
		t.Fatalf("containment: %q", sec.text(t, "main"))
	}
	home.open(t, "/account")
	if home.sessionCookie(t) && !strings.HasPrefix(home.path(t), "/login") {
		t.Fatalf("the customer's session survived containment: %s", home.path(t))
	}

	// The breach decision, then the regulator's report and its submission.
	js[bool](t, sec, `["personal", "risk", "high_risk"].forEach(function (id) { document.getElementById(id).checked = true }); true`)
	sec.submit(t, `form[action$="/decision"] button[type=submit]`, field{"#reasoning", "A customer's tickets were read: contact details exposed."})
	sec.open(t, incPath+"/regulator")
	sec.submit(t, `form[action$="/assessment"] button[type=submit]`,
		field{"#nature", "An attacker signed in to one account with a password reused from another site."},
		field{"#records_approx", "12"}, field{"#contact_point", "Data protection office, dpo@example.test"},
		field{"#consequences", "The attacker could read the customer's tickets and contact details."},
		field{"#measures", "We ended every session of the account and asked for a new password."})
	sec.submit(t, `form[action$="/submissions"] button[type=submit]`, field{"#authority", "Information Commissioner's Office"}, field{"#reference", "ICO-2026-0042"})
	if !strings.Contains(sec.text(t, "main"), "ICO-2026-0042") {
		t.Fatalf("the submission is not recorded: %q", sec.text(t, "main"))
	}

	// The breach notice starts from the assessment; it goes to the customer.
	sec.open(t, incPath+"/notices/new")
	if v := js[string](t, sec, `document.getElementById("nature").value`); !strings.Contains(v, "password reused") {
		t.Errorf("the composer does not start from the assessment: %q", v)
	}
	js[bool](t, sec, `["step-change_password", "step-review_sessions"].forEach(function (id) { document.getElementById(id).checked = true }); true`)
	sec.submit(t, `form[action$="/notices"] button[type=submit]`, field{"#advice", "Choose a new password that you use nowhere else."})
	if !strings.Contains(sec.text(t, "main"), "What each customer will read") || !strings.Contains(sec.text(t, "main"), "Choose a new password") {
		t.Fatalf("no preview: %q", sec.text(t, "main"))
	}
	sec.submit(t, `form[action$="/send"] button[type=submit]`)
	if !strings.Contains(sec.text(t, "main"), "The notice is on its way") {
		t.Fatalf("send: %q", sec.text(t, "main"))
	}
	msg := mail.WaitFor(t, func(m mailtest.Message) bool {
		return slices.Contains(m.To, owner) && m.Subject == "A security incident affecting your account"
	}, 15*time.Second)
	if !strings.Contains(msg.Text, "What you should do") || !strings.Contains(msg.Text, "Data protection office") {
		t.Errorf("the email lacks parts of the notice: %q", msg.Text)
	}

	// The customer, signed in again: the banner, the notice, a step.
	home.setSession(t, signInAgain(t, r, ids, owner, secret, ua))
	home.open(t, "/account")
	if !strings.Contains(home.text(t, ".banner"), "We wrote to you about a security incident") {
		t.Fatalf("no banner: %q", home.text(t, "body"))
	}
	home.submit(t, `.banner a`)
	if !strings.Contains(home.text(t, "main"), "The attacker could read") || !strings.Contains(home.text(t, "main"), "Change your password") {
		t.Fatalf("the customer's notice: %q", home.text(t, "main"))
	}
	home.submit(t, `form[action$="/steps/review_sessions"] button`)
	if !strings.Contains(home.text(t, "main"), "that step is marked done") {
		t.Fatalf("step: %q", home.text(t, "main"))
	}
	home.submit(t, `form[action$="/read"] button`)
	home.open(t, "/account")
	if home.has(t, ".banner") && strings.Contains(home.text(t, ".banner"), "security incident") {
		t.Error("the banner stays after the notice is read")
	}
	sec.open(t, incPath)
	sec.submit(t, `a[href*="/notices/"]`)
	if !strings.Contains(sec.text(t, "main"), "1 read it") || !strings.Contains(sec.text(t, "main"), "end any you do not recognise: 1 of 1 done") {
		t.Errorf("delivery and steps: %q", sec.text(t, "main"))
	}

	// The plan's checklists, phase by phase, to closure.
	for i := 0; i < 40; i++ {
		sec.open(t, incPath)
		if strings.Contains(sec.text(t, "main"), "The incident is closed.") {
			break
		}
		if sec.has(t, `form[action$="/check"] button`) {
			sec.submit(t, `form[action$="/check"] button`)
		} else {
			sec.submit(t, `form[action$="/advance"] button`)
		}
	}
	if !strings.Contains(sec.text(t, "main"), "The incident is closed.") {
		t.Fatalf("not closed: %q", sec.text(t, "main"))
	}
	sec.open(t, incPath+"/review")
	sec.submit(t, `form[action$="/review"] button[type=submit]`, field{"#summary", "A reused password; one account."},
		field{"#worked", "The customer's report raised the alert at once."}, field{"#failed", "Nothing asked for a second factor."})
	export := jsAwait[string](t, sec, `fetch("`+incPath+`/export").then(function (r) { return r.text() })`)
	for _, want := range []string{"Account taken over with a reused password", "incident.notice_send", "A reused password; one account."} {
		if !strings.Contains(export, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	sec.emulate(t, sec.ctx, "light", 390)
	sec.open(t, incPath)
	if w := js[int](t, sec, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the incident page is %dpx wide on a 390px phone", w)
	}
}

// enrolled creates a customer with an authenticator and a full session,
// and returns the session token and a recovery code for a second sign-in
// (an authenticator code is accepted once per 30 seconds).
func enrolled(t *testing.T, r *running, ids *identity.Service, email, ua string) (string, string) {
	t.Helper()
	ctx := context.Background()
	a, err := ids.CreateAccount(ctx, identity.NewAccount{Email: email, Role: access.RoleCustomer, Password: e2ePassword})
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
	recovery, err := ids.ConfirmTOTP(ctx, a.ID, code)
	if err != nil || len(recovery) == 0 {
		t.Fatalf("recovery codes %v, %v", recovery, err)
	}
	next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	return signInAgain(t, r, ids, email, next, ua), recovery[0]
}

// signInAgain signs the customer in with their password and code (an
// authenticator's or a recovery code), and returns the session's token.
func signInAgain(t *testing.T, r *running, ids *identity.Service, email, code, ua string) string {
	t.Helper()
	ctx := context.Background()
	st := r.Storage()
	res, err := ids.Login(ctx, identity.Credentials{Email: email, Password: e2ePassword, IP: "127.0.0.1", UserAgent: ua})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := session.NewStore(st.DB, st.Keyring, st.Audit, st.Profile.Session).Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	res, err = ids.VerifySecondFactor(ctx, sess, code, "127.0.0.1", ua)
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

const e2ePassword = "velvet-harbour-quietly-92-lanterns"
