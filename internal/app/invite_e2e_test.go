package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/mailtest"
)

// TestStaffInvitationInBrowser drives a staff invitation in Chromium
// against the whole program, with the mail read from a real SMTP server
// (CP-4.2, CP-4.3, CP-12): an administrator invites a member of staff with
// a role; the invitee opens the mailed link, chooses a password, signs in
// and is held to enrolling a second factor, which opens the account; the
// link does not work twice. Every page is checked for CSP violations and
// console errors. On SQLite and PostgreSQL.
func TestStaffInvitationInBrowser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { invitationFlow(t, tc.extra(t)...) })
	}
}

func invitationFlow(t *testing.T, extra ...string) {
	root := chromium(t)
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL(), extra...)
	r := startApp(t, cfg)
	base := r.URL()
	ids := identityFor(t, r, cfg)

	admin := newTab(t, root, "admin", base, false, "")
	admin.open(t, "/security")
	ua := js[string](t, admin, `navigator.userAgent`)
	adminToken, _ := signedIn(t, r.Storage(), ids, "admin.e2e@example.test", access.RoleAdmin, ua)
	admin.setSession(t, adminToken)
	invitee := newTab(t, root, "invitee", base, true, "")

	const (
		email    = "new.colleague@example.test"
		password = "granite-meadow-shuffles-47-kites"
	)
	s := &steps{t: t}
	var link string

	s.run("1 an administrator invites a member of staff as security", func(t *testing.T) {
		admin.open(t, "/admin")
		admin.open(t, "/admin/users/invite")
		if admin.has(t, `#invite-role option[value="admin"]`) {
			t.Error("the invitation offers the administrator role")
		}
		admin.submit(t, `form[action="/admin/users/invite"] button[type=submit]`, field{"#invite-email", email}, field{"#invite-role", "security"})
		admin.wantPath(t, "/admin/users/invite?done=invited")
		if row := admin.text(t, "tbody tr"); !strings.Contains(row, "n***@example.test") || !strings.Contains(row, "security") {
			t.Errorf("pending invitations: %q", row)
		}
	})

	s.run("2 the mail holds the link, which opens the password form", func(t *testing.T) {
		m := mail.WaitFor(t, func(m mailtest.Message) bool {
			return slices.Contains(m.To, email) && m.Subject == "You are invited to Portico"
		}, 15*time.Second)
		if link = m.URL(base + "/invite/"); link == "" {
			t.Fatalf("no invitation link in %q", m.Text)
		}
		invitee.open(t, link)
		if got := invitee.text(t, "main"); !strings.Contains(got, email) || !strings.Contains(got, "security") {
			t.Errorf("the invitation page: %q", got)
		}
		if rules := invitee.texts(t, "#password-rules li"); len(rules) == 0 {
			t.Error("the password rules are not shown before typing (CP-4.3)")
		}
	})

	s.run("3 the invitee chooses a password under the policy", func(t *testing.T) {
		done := invitee.expectConsole("status of 422")
		invitee.submit(t, `form[action^="/invite/"] button[type=submit]`, field{"#name", "Nia Colleague"}, field{"#password", "short"}, field{"#confirm", "short"})
		if a := invitee.text(t, "[role=alert]"); a == "" {
			t.Error("a password the policy refuses is accepted")
		}
		done()
		invitee.submit(t, `form[action^="/invite/"] button[type=submit]`, field{"#name", "Nia Colleague"}, field{"#password", password}, field{"#confirm", password})
		invitee.wantPath(t, "/login?done=invitation-accepted")
	})

	s.run("4 sign-in holds the newcomer to enrolling a second factor (CP-12)", func(t *testing.T) {
		invitee.submit(t, `form[action="/login"] button[type=submit]`, field{"#email", email}, field{"#password", password})
		invitee.wantPath(t, "/account/mfa/setup")
		invitee.open(t, "/desk/customers")
		if got := invitee.path(t); got != "/account/mfa/setup" {
			t.Errorf("before enrolling: /desk/customers went to %s", got)
		}
		invitee.submit(t, `form[action="/account/mfa/totp/start"] button[type=submit]`)
		key := strings.ReplaceAll(invitee.text(t, "code.secret"), " ", "")
		if rem := totpPeriod - time.Now().Unix()%totpPeriod; rem < 3 {
			time.Sleep(time.Duration(rem) * time.Second)
		}
		authApp := authenticator{secret: key}
		code, _ := authApp.next(t)
		invitee.submit(t, `form[action="/account/mfa/totp/confirm"] button[type=submit]`, field{"#code", code})
		if h := invitee.text(t, "h1"); h != "Your recovery codes" {
			t.Fatalf("after enrolling: h1 %q, alert %q", h, invitee.text(t, "[role=alert]"))
		}
		invitee.open(t, "/desk/customers")
		if got := invitee.path(t); got != "/desk/customers" {
			t.Errorf("after enrolling: /desk/customers went to %s", got)
		}
	})

	s.run("5 the link works once, and the invitation is no longer pending", func(t *testing.T) {
		other := newTab(t, root, "stranger", base, true, "")
		other.open(t, link)
		if other.has(t, `form[action^="/invite/"]`) {
			t.Error("the invitation link works twice")
		}
		admin.open(t, "/admin/users/invite")
		if admin.has(t, "tbody tr") {
			t.Errorf("still pending: %q", admin.text(t, "tbody tr"))
		}
		admin.open(t, "/admin/users?role=security")
		if got := admin.text(t, "main table"); !strings.Contains(got, "Nia Colleague") {
			t.Errorf("the account list: %q", got)
		}
	})
}
