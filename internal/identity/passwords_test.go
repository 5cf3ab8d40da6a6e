package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
)

// series are strong, distinct passwords for history tests.
var series = []string{
	"amber quokka lintel harp 11", "cobalt ferret gazebo lute 22", "ochre walrus turret fife 33",
	"indigo marmot parapet oud 44", "sienna tapir cupola sitar 55", "umber gecko bastion zither 66",
	"khaki lemur portico banjo 77",
}

// TestResetPassword covers CP-4.3 and CP-6.3: a reset link works once and
// for 30 minutes, only its hash is stored, a refused password leaves it
// usable, the reset ends every session, signs nobody in, and tells the
// owner.
func TestResetPassword(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, encouraged)
		const addr = "reset@example.com"
		a := e.customer(addr, pwA)
		s1, s2 := e.mustLogin(addr, pwA), e.mustLogin(addr, pwA)

		if err := e.svc.RequestReset(e.ctx, addr, testIP); err != nil {
			t.Fatal(err)
		}
		e.wantEvent("account:"+a.ID, "password.reset_request", nil)
		expired := e.lastLink(addr, "Reset your", "/reset/")
		if n := countBytes(t, e, `SELECT token_hash FROM account_tokens`, expired); n != 0 {
			t.Error("the reset token is stored in clear")
		}
		for _, col := range []string{"id", "account_id", "purpose"} {
			if n := countBytes(t, e, `SELECT `+col+` FROM account_tokens`, expired); n != 0 {
				t.Errorf("the reset token is in account_tokens.%s", col)
			}
		}
		e.tick(identity.ResetLinkTTL - time.Second)
		if !e.svc.ResetLinkValid(e.ctx, expired) {
			t.Error("link dead before 30 minutes")
		}
		e.tick(time.Second)
		if e.svc.ResetLinkValid(e.ctx, expired) {
			t.Error("link alive at 30 minutes")
		}
		wantCode(t, "expired link", e.svc.ResetPassword(e.ctx, expired, pwB), apperr.Invalid)

		if err := e.svc.RequestReset(e.ctx, addr, testIP); err != nil {
			t.Fatal(err)
		}
		link := e.lastLink(addr, "Reset your", "/reset/")
		// Refused passwords leave the link usable.
		err := e.svc.ResetPassword(e.ctx, link, "short")
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "too short") {
			t.Errorf("short password: %v", err)
		}
		err = e.svc.ResetPassword(e.ctx, link, pwA)
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "used this password recently") {
			t.Errorf("current password again: %v", err)
		}
		if !e.svc.ResetLinkValid(e.ctx, link) {
			t.Fatal("a refused password spent the link")
		}
		for _, bad := range []string{"", "nope", flip(link), strings.ToLower(link), expired} {
			wantCode(t, "bad token "+bad, e.svc.ResetPassword(e.ctx, bad, pwB), apperr.Invalid)
		}

		e.tick(time.Second)
		if err := e.svc.ResetPassword(e.ctx, link, pwB); err != nil {
			t.Fatalf("reset: %v", err)
		}
		if e.authenticates(s1.Token) || e.authenticates(s2.Token) {
			t.Error("a session survived the reset")
		}
		e.wantEvent("account:"+a.ID, "password.reset", map[string]any{"sessions_ended": float64(2)})
		if n := e.countEvents("account:"+a.ID, "login.success"); n != 2 {
			t.Errorf("the reset signed someone in (%d successes)", n)
		}
		e.tick(time.Second)
		wantCode(t, "used link", e.svc.ResetPassword(e.ctx, link, pwC), apperr.Invalid)
		if ms := e.mails(addr, "Your password was changed"); len(ms) != 1 || !strings.Contains(ms[0].Text, "2 other sessions were signed out") {
			t.Errorf("password-changed mail %+v", ms)
		}
		_, err = e.login(addr, pwA)
		wantSignInFailed(t, "old password", err)
		e.mustLogin(addr, pwB)
	})
}

// TestResetKeepsMFA covers CP-4.1: a reset never bypasses the second
// factor.
func TestResetKeepsMFA(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		a := e.customer("mfa-reset@example.com", pwA)
		e.enrolTOTP(a.ID)
		if err := e.svc.RequestReset(e.ctx, "mfa-reset@example.com", testIP); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ResetPassword(e.ctx, e.lastLink("mfa-reset@example.com", "Reset", "/reset/"), pwB); err != nil {
			t.Fatal(err)
		}
		if si := e.mustLogin("mfa-reset@example.com", pwB); si.Next != identity.StepSecondFactor || si.Session.AAL != 1 {
			t.Errorf("after reset: %+v", si)
		}
	})
}

// TestChangePassword covers CP-4.3 and MTL-3.1.1: the current password is
// required (and guessing it counts towards the lock, CP-8.2), none of the
// last History passwords may come back, and a change clears a required
// change.
func TestChangePassword(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, encouraged)
		for _, p := range series {
			if err := e.svc.CheckPassword(p, "", ""); err != nil {
				t.Fatalf("test password %q: %v", p, err)
			}
		}
		const addr = "ch@example.com"
		a := e.customer(addr, series[0])
		cur := e.mustLogin(addr, series[0])
		other := e.mustLogin(addr, series[0])
		change := func(current, next string) error {
			e.tick(time.Second)
			return e.svc.ChangePassword(e.ctx, a.ID, cur.Session.ID, current, next)
		}

		err := change(pwB, series[1])
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "current password is not right") {
			t.Errorf("wrong current password: %v", err)
		}
		if h := e.signIns(a.ID); h[0].Success || h[0].Reason != "bad_password" {
			t.Errorf("a wrong current password is not in the history: %+v", h[0])
		}
		wantCode(t, "same password", change(series[0], series[0]), apperr.Invalid)
		wantCode(t, "weak password", change(series[0], "password1234"), apperr.Invalid)

		// History depth 5: the current and the four before it are refused.
		if e.profile.Password.History != 5 {
			t.Fatalf("history %d", e.profile.Password.History)
		}
		for i := 1; i <= 5; i++ {
			if err := change(series[i-1], series[i]); err != nil {
				t.Fatalf("change %d: %v", i, err)
			}
		}
		for i := 1; i <= 4; i++ {
			err := change(series[5], series[i])
			if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "used this password recently") {
				t.Errorf("reuse of password %d: %v", i, err)
			}
		}
		if err := change(series[5], series[0]); err != nil {
			t.Errorf("the sixth password back: %v", err)
		}
		var kept int
		d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM password_history WHERE account_id = $1`, a.ID).Scan(&kept)
		if kept != 5 {
			t.Errorf("%d history entries kept, want 5", kept)
		}
		// CP-6.3: a change ends every other session, the current one stays.
		if e.authenticates(other.Token) || !e.authenticates(cur.Token) {
			t.Error("after a password change: another session survived, or the current one did not")
		}

		// A required change: sessions end, the next sign-in must change.
		if err := e.svc.RequirePasswordChange(e.ctx, a.ID, identity.ChangeAdmin); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "unknown reason", e.svc.RequirePasswordChange(e.ctx, a.ID, "whim"), apperr.Invalid)
		wantCode(t, "unknown account", e.svc.RequirePasswordChange(e.ctx, "nosuchaccount", identity.ChangeAdmin), apperr.NotFound)
		if e.authenticates(cur.Token) || e.authenticates(other.Token) {
			t.Error("sessions survived a required change")
		}
		e.tick(time.Second)
		cur = e.mustLogin(addr, series[0])
		other = e.mustLogin(addr, series[0])
		if cur.Next != identity.StepChangePassword || e.stage(cur.Session) != identity.StepChangePassword {
			t.Errorf("after RequirePasswordChange: next %s", cur.Next)
		}
		if err := change(series[0], series[6]); err != nil {
			t.Fatal(err)
		}
		if got := e.acct(a.ID); got.PasswordChangeRequired != "" || e.stage(cur.Session) != identity.StepDone {
			t.Errorf("required change not cleared: %+v", got)
		}
		if !e.authenticates(cur.Token) || e.authenticates(other.Token) {
			t.Error("endOthers: want the current session kept and the other ended")
		}
		e.wantEvent("account:"+a.ID, "password.change", map[string]any{"was_required": "admin", "sessions_ended": float64(1)})
	})
}

// TestChangePasswordGuessingLocks covers CP-8.2: guessing the current
// password through a password change backs off and locks like sign-in.
func TestChangePasswordGuessingLocks(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{profile: policy.MTLWeb, tweak: func(p *policy.Profile) { p.Lockout.Threshold = 3 }})
		a := e.customer("guess@example.com", pwA)
		si := e.mustLogin("guess@example.com", pwA)
		ctx := audit.WithRequest(context.Background(), audit.Request{IP: testIP, UserAgent: testUA})
		e.tick(time.Second)
		for _, guess := range []string{"guess one is wrong", "guess two is wrong", "guess three is wrong"} {
			wantCode(t, "wrong guess", e.svc.ChangePassword(ctx, a.ID, si.Session.ID, guess, pwB), apperr.Invalid)
		}
		if e.acct(a.ID).LockedUntil.IsZero() {
			t.Fatal("three wrong current passwords did not lock at threshold 3")
		}
		if h := e.signIns(a.ID); h[0].IP != testIP {
			t.Errorf("history %+v lacks the request's address", h[0])
		}
		if err := e.svc.ChangePassword(ctx, a.ID, si.Session.ID, pwA, pwB); err == nil {
			t.Error("password changed while locked")
		}
		_, err := e.login("guess@example.com", pwA)
		wantSignInFailed(t, "sign-in while locked", err)
	})
}

// TestBreachedPasswordAtLogin covers CP-4.3 and MTL-3.1.1: a password found
// in the breached-password file at sign-in forces a change before anything
// else, and that change ends the other sessions.
func TestBreachedPasswordAtLogin(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		// The account predates the breach: made on a node without the file.
		before := newEnv(t, d, clk, encouraged)
		a := before.customer("br@example.com", pwA)
		s0 := before.mustLogin("br@example.com", pwA)
		o := encouraged
		o.breached = breachedFile(t, pwA)
		e := before.node(o)

		err := e.svc.CheckPassword(pwA, "", "")
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "data breach") {
			t.Errorf("the checker does not see the file: %v", err)
		}
		e.tick(time.Second)
		si := e.mustLogin("br@example.com", pwA)
		if si.Next != identity.StepChangePassword || e.stage(si.Session) != identity.StepChangePassword {
			t.Fatalf("breached password: next %s", si.Next)
		}
		if got := e.acct(a.ID); got.PasswordChangeRequired != identity.ChangeCompromised {
			t.Errorf("required %q", got.PasswordChangeRequired)
		}
		e.wantEvent("account:"+a.ID, "password.change_required", map[string]any{"reason": "compromised"})
		e.wantEvent("account:"+a.ID, "login.password", map[string]any{"breached": true})
		// A clean password from a second account is not flagged.
		e.customer("clean@example.com", pwB)
		if si := e.mustLogin("clean@example.com", pwB); si.Next != identity.StepDone {
			t.Errorf("clean password: next %s", si.Next)
		}

		// The forced change ends the other sessions even when not asked.
		if err := e.svc.ChangePassword(e.ctx, a.ID, si.Session.ID, pwA, pwC); err != nil {
			t.Fatal(err)
		}
		if e.authenticates(s0.Token) || !e.authenticates(si.Token) || e.stage(si.Session) != identity.StepDone {
			t.Error("compromise: want other sessions ended and this one fully signed in")
		}
	})
}

// TestPasswordExpiry covers CP-4.3: at ExpiryDays the next sign-in (after
// the second factor) must change the password first; the banner shows in
// the warning period.
func TestPasswordExpiry(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{}) // customer-portal: 90 days, warned 14 before
		p := e.profile.Password
		if p.ExpiryDays != 90 || p.ExpiryWarningDays != 14 {
			t.Fatalf("profile expiry %d/%d", p.ExpiryDays, p.ExpiryWarningDays)
		}
		a := e.customer("exp@example.com", pwA)
		secret, _ := e.enrolTOTP(a.ID)
		day := 24 * time.Hour
		signIn := func() identity.SignIn {
			t.Helper()
			pending := e.mustLogin("exp@example.com", pwA)
			done, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), testIP, testUA)
			if err != nil {
				t.Fatal(err)
			}
			e.tick(30 * time.Second)
			return done
		}
		if _, warn := e.svc.ExpiryWarning(e.acct(a.ID), clk.Now()); warn {
			t.Error("banner on a new password")
		}
		e.clk.Add(76*day - 2*time.Minute)
		if _, warn := e.svc.ExpiryWarning(e.acct(a.ID), clk.Now()); warn {
			t.Error("banner before the warning period")
		}
		e.clk.Add(2 * time.Minute)
		at, warn := e.svc.ExpiryWarning(e.acct(a.ID), clk.Now())
		if !warn || !at.Equal(e.acct(a.ID).CreatedAt.Add(90*day)) {
			t.Errorf("banner %v at %v", warn, at)
		}
		e.clk.Add(14*day - 2*time.Minute)
		before := signIn()
		if before.Next != identity.StepDone {
			t.Errorf("just before expiry: %s", before.Next)
		}
		e.clk.Add(2 * time.Minute)
		// A session that began before the expiry is restricted at once,
		// not at its next sign-in (CP-12).
		if got := e.stage(before.Session); got != identity.StepChangePassword {
			t.Errorf("a live session after expiry: %s", got)
		}
		si := signIn()
		if si.Next != identity.StepChangePassword || e.stage(si.Session) != identity.StepChangePassword {
			t.Fatalf("at expiry: %s", si.Next)
		}
		e.wantEvent("account:"+a.ID, "password.change_required", map[string]any{"reason": "expired"})
		if err := e.svc.ChangePassword(e.ctx, a.ID, si.Session.ID, pwA, pwB); err != nil {
			t.Fatal(err)
		}
		if e.stage(si.Session) != identity.StepDone {
			t.Error("still restricted after the change")
		}
	})
}

// TestSendExpiryWarnings covers CP-4.3: one warning per password, by mail
// and inbox, inside the warning period, to active accounts only.
func TestSendExpiryWarnings(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		day := 24 * time.Hour
		a := e.customer("wa@example.com", pwA)
		off := e.customer("off@example.com", pwA)
		if err := e.svc.SetDisabled(e.ctx, off.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SignUp(e.ctx, signUpInput("unverified@example.com", pwA)); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(10 * day)
		e.customer("wb@example.com", pwB)
		send := func(want int) {
			t.Helper()
			n, err := e.svc.SendExpiryWarnings(e.ctx)
			if err != nil || n != want {
				t.Errorf("%v: warned %d, %v; want %d", clk.Now().Sub(clockStart), n, err, want)
			}
		}
		e.clk.Add(66*day - time.Second) // a: 76 days less a second
		send(0)
		e.tick(time.Second)
		send(1)
		send(0)
		if ms := e.mails("wa@example.com", "Your password expires soon"); len(ms) != 1 || !strings.Contains(ms[0].Text, clockStart.Add(90*day).Format("2 January 2006")) {
			t.Errorf("warning mail %+v", ms)
		}
		var inInbox bool
		for _, n := range e.inbox(a.ID) {
			inInbox = inInbox || n.Kind == "password-expiry"
		}
		if !inInbox {
			t.Error("no inbox warning")
		}
		e.wantEvent("account:"+a.ID, "password.expiry_warning", nil)
		e.clk.Add(10 * day)
		send(1) // b
		// A new password gets its own warning, in its own time.
		pending := e.mustLogin("wa@example.com", pwA)
		if err := e.svc.ChangePassword(e.ctx, a.ID, pending.Session.ID, pwA, pwC); err != nil {
			t.Fatal(err)
		}
		send(0)
		e.clk.Add(76 * day)
		send(1) // a's new password; b's was warned already
		if ms := e.mails("wa@example.com", "Your password expires soon"); len(ms) != 2 {
			t.Errorf("%d warnings to a, want 2", len(ms))
		}
		if n := len(e.mails("off@example.com", "")) + len(e.mails("unverified@example.com", "expires")); n != 0 {
			t.Errorf("%d warnings to disabled or unverified accounts", n)
		}
	})
}

// TestRehashAtLogin covers CP-4.3: a hash made with older argon2
// parameters is replaced at the next successful sign-in.
func TestRehashAtLogin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		old := newEnv(t, d, nil, encouraged)
		a := old.customer("rh@example.com", pwA)
		stronger := encouraged
		stronger.tweak = func(p *policy.Profile) {
			p.Password.Argon2 = policy.Argon2{MemoryKiB: 128, Iterations: 2, Parallelism: 1}
		}
		e := old.node(stronger)
		hash := func() string {
			var h string
			d.QueryRowContext(e.ctx, `SELECT password_hash FROM accounts WHERE id = $1`, a.ID).Scan(&h)
			return h
		}
		if !strings.Contains(hash(), "$m=64,t=1,p=1$") {
			t.Fatalf("hash %s", hash())
		}
		_, err := e.login("rh@example.com", pwB)
		wantSignInFailed(t, "wrong password", err)
		if !strings.Contains(hash(), "$m=64,t=1,p=1$") {
			t.Error("a failed sign-in re-hashed")
		}
		e.mustLogin("rh@example.com", pwA)
		if !strings.Contains(hash(), "$m=128,t=2,p=1$") {
			t.Errorf("not re-hashed: %s", hash())
		}
		e.wantEvent("account:"+a.ID, "login.password", map[string]any{"rehashed": true})
		e.mustLogin("rh@example.com", pwA)
		if n := countRehash(e, a.ID); n != 1 {
			t.Errorf("%d re-hashes, want 1", n)
		}
	})
}

func countRehash(e *env, id string) int {
	n := 0
	for _, ev := range e.events("account:" + id) {
		if ev.Action == "login.password" && ev.Details["rehashed"] == true {
			n++
		}
	}
	return n
}

// TestResetTakesTheSameTime covers CP-6.3 (no enumeration by timing): a
// reset request for a known and for an unknown address both wait until
// the same floor.
func TestResetTakesTheSameTime(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	e := newEnv(t, d, nil, encouraged)
	e.customer("known@example.com", pwA)
	pw, err := password.New(e.profile.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := identity.New(identity.Deps{ResetFloor: 100 * time.Millisecond, DB: d, Keys: e.keys, Audit: e.log, Profile: e.profile,
		Passwords: pw, Sessions: e.sessions, Notifier: notify.ForIdentity(e.notices), PublicURL: "https://portal.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"known@example.com", "unknown@example.com"} {
		start := time.Now()
		if err := svc.RequestReset(e.ctx, addr, testIP); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Errorf("%s: answered after %v, before the floor", addr, took)
		}
	}
}
