package identity_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// TestEncryptionAtRest covers CP-5.1 and MTL-2.1.3: after a sign-up, a
// confirmation, sign-ins (failed and successful) and a TOTP enrolment, the
// SQLite files hold no email address, name, IP address, user agent, TOTP
// secret, recovery code, link token or report text in clear.
func TestEncryptionAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portico.db")
	clk := newClock()
	d, err := db.Open(ctx, db.Options{Path: path, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			d.Close()
		}
	})
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, d, clk, options{ownAudit: true})
	const (
		addr = "quentin.zylberstein@example.com"
		name = "Quentin Zylberstein"
		ip   = "81.2.69.199"
		ua   = "Mozilla/5.0 (X11; Linux x86_64) PorticoProbe/9.9.9 Firefox/140.0"
		note = "I was asleep in Reykjavik when this happened"
	)
	in := signUpInput(addr, pwA)
	in.Name = name
	if err := e.svc.SignUp(e.ctx, in); err != nil {
		t.Fatal(err)
	}
	verify := e.lastLink(addr, "Confirm", "/verify/")
	if err := e.svc.VerifyEmail(e.ctx, verify, pwA, testIP, "test"); err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.FindByEmail(e.ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	cred := identity.Credentials{Email: addr, Password: pwB, IP: ip, UserAgent: ua}
	if _, err := e.svc.Login(e.ctx, cred); err == nil {
		t.Fatal("wrong password accepted")
	}
	cred.Password = pwA
	pending, err := e.svc.Login(e.ctx, cred)
	if err != nil {
		t.Fatal(err)
	}
	secret, codes := e.enrolTOTP(a.ID)
	if _, err := e.svc.FinishEnrolment(e.ctx, pending.Session, identity.MethodTOTP, ip, ua); err != nil {
		t.Fatal(err)
	}
	pending, err = e.svc.Login(e.ctx, cred)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), ip, ua); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequestReset(e.ctx, addr, ip); err != nil {
		t.Fatal(err)
	}
	reset := e.lastLink(addr, "Reset", "/reset/")
	h := e.signIns(a.ID)
	if _, err := e.svc.ReportSuspicious(e.ctx, a.ID, h[0].ID, note, "portal"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.Name(e.ctx, a.ID); got != name {
		t.Fatalf("name reads back as %q", got)
	}

	secrets := map[string]string{
		"email": addr, "email's local part": "zylberstein", "name": name, "IP address": ip,
		"user agent": "PorticoProbe", "TOTP secret": secret, "recovery code": strings.ReplaceAll(codes[0], " ", ""),
		"verification token": verify, "reset token": reset, "report": "Reykjavik", "password": pwA,
	}
	scan := func(when string) {
		t.Helper()
		for _, suffix := range []string{"", "-wal", "-journal"} {
			b, err := os.ReadFile(path + suffix)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			low := bytes.ToLower(b)
			for what, s := range secrets {
				if bytes.Contains(low, bytes.ToLower([]byte(s))) {
					t.Errorf("%s: portico.db%s holds the %s in clear", when, suffix, what)
				}
			}
		}
	}
	scan("open")
	res, err := e.log.Verify(ctx, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("audit: %+v, %v", res, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	scan("closed")
}

// TestReportSuspicious covers CP-7.3 and CP-3.1: a customer reports one of
// their own sign-ins ("this wasn't me") or their account in general; the
// report is stored, its text encrypted, and audited. Another account's
// sign-in is NotFound.
func TestReportSuspicious(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, encouraged)
		a := e.customer("rep@example.com", pwA)
		b := e.customer("other@example.com", pwB)
		e.login("rep@example.com", pwB)
		e.mustLogin("other@example.com", pwB)
		mine, theirs := e.signIns(a.ID)[0], e.signIns(b.ID)[0]

		_, err := e.svc.ReportSuspicious(e.ctx, a.ID, theirs.ID, "not me", "portal")
		wantCode(t, "another account's sign-in", err, apperr.NotFound)
		_, err = e.svc.ReportSuspicious(e.ctx, a.ID, "nosuchevent", "", "portal")
		wantCode(t, "unknown sign-in", err, apperr.NotFound)
		_, err = e.svc.ReportSuspicious(e.ctx, a.ID, mine.ID, strings.Repeat("x", 2001), "portal")
		wantCode(t, "long note", err, apperr.Invalid)
		var n int
		d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM security_reports`).Scan(&n)
		if n != 0 || e.countEvents("", "report.create") != 0 {
			t.Fatalf("refused reports stored: %d", n)
		}

		id, err := e.svc.ReportSuspicious(e.ctx, a.ID, mine.ID, "Someone in another country", "portal")
		if err != nil {
			t.Fatal(err)
		}
		var owner, event, status string
		var details []byte
		if err := d.QueryRowContext(e.ctx, `SELECT account_id, sign_in_event_id, status, details_enc FROM security_reports WHERE id = $1`, id).
			Scan(&owner, &event, &status, &details); err != nil {
			t.Fatal(err)
		}
		if owner != a.ID || event != mine.ID || status != "open" || bytes.Contains(details, []byte("another country")) {
			t.Errorf("report row: %s %s %s %q", owner, event, status, details)
		}
		e.wantEvent("report:"+id, "report.create", map[string]any{"account": a.ID, "sign_in_event": mine.ID, "source": "portal"})
		general, err := e.svc.ReportSuspicious(e.ctx, a.ID, "", "", "portal")
		if err != nil || general == id {
			t.Errorf("general report: %q, %v", general, err)
		}
	})
}

// TestAuditTrailOfAJourney covers CP-5.3 for identity: every
// security-relevant step of a customer's life leaves its audit event, with
// reasons and without personal data, and the chain verifies.
func TestAuditTrailOfAJourney(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{tweak: func(p *policy.Profile) { p.Lockout.Threshold = 3 }})
		const addr = "journey@example.com"
		if err := e.svc.SignUp(e.ctx, signUpInput(addr, pwA)); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.VerifyEmail(e.ctx, e.lastLink(addr, "Confirm", "/verify/"), pwA, testIP, "test"); err != nil {
			t.Fatal(err)
		}
		a, _ := e.svc.FindByEmail(e.ctx, addr)
		target := "account:" + a.ID
		e.tick(time.Second)
		e.login(addr, pwB)
		pending := e.mustLogin(addr, pwA) // StepEnrol
		secret, _ := e.enrolTOTP(a.ID)
		if _, err := e.svc.FinishEnrolment(e.ctx, pending.Session, identity.MethodTOTP, testIP, testUA); err != nil {
			t.Fatal(err)
		}
		pending = e.mustLogin(addr, pwA)
		e.svc.VerifySecondFactor(e.ctx, pending.Session, "000000", testIP, testUA)
		if _, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), testIP, testUA); err != nil {
			t.Fatal(err)
		}
		e.tick(time.Second)
		for range 3 {
			e.login(addr, pwB)
		}
		e.login(addr, pwA) // refused unchecked: locked
		if err := e.svc.RequestReset(e.ctx, addr, testIP); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ResetPassword(e.ctx, e.lastLink(addr, "Reset", "/reset/"), pwB); err != nil {
			t.Fatal(err)
		}
		e.tick(time.Minute)
		pending = e.mustLogin(addr, pwB)
		done, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), testIP, testUA)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ChangePassword(e.ctx, a.ID, done.Session.ID, pwB, pwC); err != nil {
			t.Fatal(err)
		}

		for _, w := range []struct {
			action  string
			details map[string]any
		}{
			{"account.signup", map[string]any{"privacy_version": privacyV}},
			{"account.verify_email", nil},
			{"login.failure", map[string]any{"reason": "bad_password", "method": "password"}},
			{"login.failure", map[string]any{"reason": "bad_code", "method": "totp"}},
			{"login.failure", map[string]any{"reason": "locked"}},
			{"login.password", nil},
			{"mfa.totp.enable", nil},
			{"login.success", nil},
			{"account.lock", nil},
			{"password.reset_request", nil},
			{"password.reset", nil},
			{"password.change", nil},
		} {
			e.wantEvent(target, w.action, w.details)
		}
		e.wantEvent("", "session.create", nil)
		for _, ev := range e.events("") {
			s := ev.Target + " " + ev.Action
			for k, v := range ev.Details {
				s += " " + k + "=" + toString(v)
			}
			for _, secret := range []string{addr, "journey", testIP, pwA, pwB, pwC, "Robin"} {
				if strings.Contains(s, secret) {
					t.Errorf("audit event holds %q: %s", secret, s)
				}
			}
		}
		res, err := e.log.Verify(e.ctx, audit.VerifyOptions{})
		if err != nil || !res.OK {
			t.Errorf("audit chain: %+v, %v", res, err)
		}
	})
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, p := range v {
			parts = append(parts, toString(p))
		}
		return strings.Join(parts, ",")
	}
	return ""
}
