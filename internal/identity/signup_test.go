package identity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
)

const privacyV = "2031-01"

func signUpInput(email, pw string) identity.SignUpInput {
	return identity.SignUpInput{Email: email, Name: "Robin Quill", Password: pw,
		PrivacyVersion: privacyV, CurrentPrivacyVersion: privacyV, IP: testIP}
}

func (e *env) countAccounts() int {
	e.t.Helper()
	var n int
	if err := e.d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestSignUpRecordsPrivacyVersion covers MTL-2.1.2: the current privacy
// notice must be accepted, and the version is recorded with its time.
func TestSignUpRecordsPrivacyVersion(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		for _, tc := range []struct{ name, accepted, current string }{
			{"box not ticked", "", privacyV},
			{"an older version", "2030-07", privacyV},
			{"no current version", "", ""},
		} {
			in := signUpInput("robin@example.com", pwA)
			in.PrivacyVersion, in.CurrentPrivacyVersion = tc.accepted, tc.current
			err := e.svc.SignUp(e.ctx, in)
			if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "privacy notice") {
				t.Errorf("%s: %v, want Invalid about the privacy notice", tc.name, err)
			}
		}
		if n := e.countAccounts(); n != 0 {
			t.Fatalf("%d accounts after refused sign-ups", n)
		}

		e.tick(time.Minute)
		if err := e.svc.SignUp(e.ctx, signUpInput("Robin@Example.com", pwA)); err != nil {
			t.Fatal(err)
		}
		var id, version, status string
		var at time.Time
		if err := d.QueryRowContext(e.ctx, `SELECT id, privacy_version, privacy_accepted_at, status FROM accounts`).Scan(&id, &version, &at, &status); err != nil {
			t.Fatal(err)
		}
		if version != privacyV || !at.Equal(clk.Now()) || status != identity.StatusUnverified {
			t.Errorf("recorded version %q at %v, status %s; want %q at %v, unverified", version, at, status, privacyV, clk.Now())
		}
		// Kept as the sign-up acknowledgement too, which a newer version's
		// acknowledgement does not overwrite (CP-11.1: it is exported).
		var ackVersion string
		var ackAt time.Time
		if err := d.QueryRowContext(e.ctx, `SELECT version, at FROM notice_acks WHERE account_id = $1 AND at_sign_up`, id).Scan(&ackVersion, &ackAt); err != nil {
			t.Fatalf("no sign-up acknowledgement: %v", err)
		}
		if ackVersion != privacyV || !ackAt.Equal(clk.Now()) {
			t.Errorf("sign-up acknowledgement %q at %v, want %q at %v", ackVersion, ackAt, privacyV, clk.Now())
		}
		e.wantEvent("account:"+id, "account.signup", map[string]any{"privacy_version": privacyV})
	})
}

// TestSignUpExistingAddress covers CP-4.3 (no user enumeration) and CP-9.1:
// signing up with an address that has an account answers exactly as a new
// sign-up, creates nothing, and tells the owner by mail.
func TestSignUpExistingAddress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, options{})
		owner := e.customer("owner@example.com", pwA)
		if err := e.svc.SignUp(e.ctx, signUpInput(" OWNER@example.com", pwB)); err != nil {
			t.Fatalf("sign-up with a taken address: %v, want the same nil as a new one", err)
		}
		if n := e.countAccounts(); n != 1 {
			t.Errorf("%d accounts, want 1", n)
		}
		ms := e.mails("owner@example.com", "Someone tried to create an account")
		if len(ms) != 1 || !strings.Contains(ms[0].Text, "nothing was created") {
			t.Errorf("owner mails %+v", ms)
		}
		e.wantEvent("account:"+owner.ID, "account.signup", map[string]any{"reason": "address_in_use"})
		// The owner's password is untouched.
		e.mustLogin("owner@example.com", pwA)
		if _, err := e.login("owner@example.com", pwB); err == nil {
			t.Error("the sign-up's password opens the existing account")
		}
	})
}

// TestVerificationLink covers CP-4.3 and MTL-2.1.2: the confirmation link is
// single use, expires after VerifyLinkTTL, only the newest one works, only
// its hash is stored, and every bad token gets the same answer.
func TestVerificationLink(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		const addr = "robin@example.com"
		if err := e.svc.SignUp(e.ctx, signUpInput(addr, pwA)); err != nil {
			t.Fatal(err)
		}
		first := e.lastLink(addr, "Confirm your email", "/verify/")
		if !e.svc.VerifyLinkValid(e.ctx, first) {
			t.Fatal("fresh link is not valid")
		}
		var raw []byte
		if err := d.QueryRowContext(e.ctx, `SELECT token_hash FROM account_tokens`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), first) || len(raw) != 32 {
			t.Errorf("token stored as %q", raw)
		}

		// Signing up again before confirming sends a fresh link and voids
		// the first; still one account.
		e.tick(time.Minute)
		if err := e.svc.SignUp(e.ctx, signUpInput(addr, pwA)); err != nil {
			t.Fatal(err)
		}
		second := e.lastLink(addr, "Confirm your email", "/verify/")
		if second == first || e.countAccounts() != 1 {
			t.Fatalf("second link %q, %d accounts", second, e.countAccounts())
		}
		badLink := func(what, tok string) {
			t.Helper()
			if e.svc.VerifyLinkValid(e.ctx, tok) {
				t.Errorf("%s: VerifyLinkValid says yes", what)
			}
			err := e.svc.VerifyEmail(e.ctx, tok, pwA, testIP, "test")
			if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "This link is not valid") {
				t.Errorf("%s: %v, want the one bad-link answer", what, err)
			}
		}
		badLink("superseded link", first)
		for _, g := range []string{"", "x", strings.Repeat("A", 52), strings.ToLower(second), flip(second), second + "A", "../" + second[3:], "' OR 1=1 --" + strings.Repeat(" ", 41)} {
			if g == second {
				continue
			}
			badLink("garbage "+g, g)
		}
		// A reset token is not a verification token.
		e.customer("other@example.com", pwB)
		if err := e.svc.RequestReset(e.ctx, "other@example.com", testIP); err != nil {
			t.Fatal(err)
		}
		badLink("a reset token", e.lastLink("other@example.com", "Reset your", "/reset/"))

		// Expiry: valid one second before VerifyLinkTTL, dead at it.
		e.tick(identity.VerifyLinkTTL - time.Second)
		if !e.svc.VerifyLinkValid(e.ctx, second) {
			t.Error("link dead before its TTL")
		}
		e.tick(time.Second)
		badLink("expired link", second)

		// A fresh link works once.
		if err := e.svc.SignUp(e.ctx, signUpInput(addr, pwA)); err != nil {
			t.Fatal(err)
		}
		third := e.lastLink(addr, "Confirm your email", "/verify/")
		if err := e.svc.VerifyEmail(e.ctx, third, pwA, testIP, "test"); err != nil {
			t.Fatalf("VerifyEmail: %v", err)
		}
		badLink("used link", third)
		a, err := e.svc.FindByEmail(e.ctx, addr)
		if err != nil || a.Status != identity.StatusActive || !a.EmailVerifiedAt.Equal(clk.Now()) {
			t.Errorf("after verification: %+v, %v", a, err)
		}
		e.wantEvent("account:"+a.ID, "account.verify_email", nil)
		e.mustLogin(addr, pwA)
	})
}

// TestNoUserEnumeration covers CP-4.3 and CP-8.2: sign-up, sign-in and reset
// answer known and unknown addresses alike, errors included.
func TestNoUserEnumeration(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		e.customer("known@example.com", pwA)
		disabled := e.customer("disabled@example.com", pwA)
		if err := e.svc.SetDisabled(e.ctx, disabled.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SignUp(e.ctx, signUpInput("pending@example.com", pwA)); err != nil {
			t.Fatal(err)
		}
		same := func(what string, a, b error) {
			t.Helper()
			if apperr.CodeOf(a) != apperr.CodeOf(b) || apperr.MessageOf(a) != apperr.MessageOf(b) || (a == nil) != (b == nil) {
				t.Errorf("%s: known %v, unknown %v", what, a, b)
			}
		}
		addrs := []string{"known@example.com", "disabled@example.com", "pending@example.com"}

		t.Run("sign-up", func(t *testing.T) {
			unknown := e.svc.SignUp(e.ctx, signUpInput("nobody1@example.com", pwB))
			for _, a := range addrs {
				same("sign-up "+a, e.svc.SignUp(e.ctx, signUpInput(a, pwB)), unknown)
			}
			// A refused password is refused the same way for both.
			same("weak password", e.svc.SignUp(e.ctx, signUpInput("known@example.com", "short")),
				e.svc.SignUp(e.ctx, signUpInput("nobody2@example.com", "short")))
		})
		t.Run("sign-in", func(t *testing.T) {
			e.tick(time.Minute)
			_, unknown := e.login("nobody3@example.com", pwB)
			if apperr.CodeOf(unknown) != apperr.Unauthorized {
				t.Fatalf("unknown address: %v", unknown)
			}
			_, garbage := e.login("not an address", pwB)
			same("malformed address", garbage, unknown)
			// The sign-up subtest gave the pending account pwB (a new
			// sign-up of an unconfirmed address takes it over): use a
			// password none of them has.
			const wrong = "none of these accounts has this 55"
			for _, a := range addrs {
				_, err := e.login(a, wrong)
				same("wrong password for "+a, err, unknown)
			}
			_, err := e.login("disabled@example.com", pwA)
			same("right password of a disabled account", err, unknown)
		})
		t.Run("reset", func(t *testing.T) {
			unknown := e.svc.RequestReset(e.ctx, "nobody4@example.com", testIP)
			same("reset garbage", e.svc.RequestReset(e.ctx, "@@", testIP), unknown)
			for _, a := range addrs {
				same("reset "+a, e.svc.RequestReset(e.ctx, a, testIP), unknown)
			}
			// Only the active account got a link.
			if len(e.mails("known@example.com", "Reset your")) != 1 || len(e.mails("disabled@example.com", "Reset your")) != 0 ||
				len(e.mails("pending@example.com", "Reset your")) != 0 || len(e.mails("nobody4@example.com", "")) != 0 {
				t.Error("reset mail went to the wrong addresses")
			}
		})
		// The unknown address left a failure in the trail without naming it.
		e.wantEvent("account:unknown", "login.failure", map[string]any{"reason": "unknown_account"})
		for _, ev := range e.events("") {
			if strings.Contains(ev.Target, "nobody") {
				t.Errorf("audit event names an address: %+v", ev)
			}
		}
	})
}

// flip changes the last character of a token.
func flip(tok string) string {
	last := byte('A')
	if tok[len(tok)-1] == 'A' {
		last = 'B'
	}
	return tok[:len(tok)-1] + string(last)
}

// TestPreVerificationTakeover covers CP-4.3 and CP-6.3: someone who signs
// up first with another person's address gets nothing. The owner's own
// sign-up replaces their password and voids their link; a link opened by
// the owner without having signed up confirms nothing without the password.
func TestPreVerificationTakeover(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, encouraged)
		const victim = "victim@example.com"
		const attackerPW = "attacker chose this one 77"

		// The attacker signs up with the victim's address.
		if err := e.svc.SignUp(e.ctx, signUpInput(victim, attackerPW)); err != nil {
			t.Fatal(err)
		}
		attackerLink := e.lastLink(victim, "Confirm your email", "/verify/")

		// The victim, who did not sign up, opens the link: without the
		// attacker's password it confirms nothing.
		if err := e.svc.VerifyEmail(e.ctx, attackerLink, pwA, testIP, "test"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("confirming with another password: %v", err)
		}
		if !e.svc.VerifyLinkValid(e.ctx, attackerLink) {
			t.Fatal("a wrong password used up the link")
		}

		// The victim signs up: their password replaces the attacker's and
		// the attacker's link dies.
		if err := e.svc.SignUp(e.ctx, signUpInput(victim, pwA)); err != nil {
			t.Fatal(err)
		}
		if e.svc.VerifyLinkValid(e.ctx, attackerLink) {
			t.Error("the first sign-up's link still works")
		}
		link := e.lastLink(victim, "Confirm your email", "/verify/")
		if err := e.svc.VerifyEmail(e.ctx, link, attackerPW, testIP, "test"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("the attacker's password confirmed the victim's sign-up: %v", err)
		}
		if err := e.svc.VerifyEmail(e.ctx, link, pwA, testIP, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.login(victim, attackerPW); err == nil {
			t.Error("the attacker's password signs in")
		}
		e.mustLogin(victim, pwA)
		if e.countAccounts() != 1 {
			t.Errorf("%d accounts", e.countAccounts())
		}
	})
}
