package identity_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// wantSignInFailed fails unless err is the one generic sign-in failure.
func wantSignInFailed(t *testing.T, what string, err error) {
	t.Helper()
	if apperr.CodeOf(err) != apperr.Unauthorized || !strings.Contains(apperr.MessageOf(err), "do not match an account that can sign in now") {
		t.Errorf("%s: %v, want the generic sign-in failure", what, err)
	}
}

// encouraged is the 1642MTL profile: a password alone completes sign-in,
// which keeps lockout tests to one step.
var encouraged = options{profile: policy.MTLWeb}

// TestLoginWrongPassword covers CP-8.2 and CP-4.1: a wrong password and an
// unknown account get the same generic answer; the failure is in the
// account's sign-in history and the audit trail.
func TestLoginWrongPassword(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, encouraged)
		a := e.customer("kim@example.com", pwA)
		_, err := e.login("kim@example.com", pwB)
		wantSignInFailed(t, "wrong password", err)
		_, err = e.login("nobody@example.com", pwA)
		wantSignInFailed(t, "unknown account", err)
		_, err = e.login("KIM@example.com", strings.ToUpper(pwA))
		wantSignInFailed(t, "case-folded password", err)

		h := e.signIns(a.ID)
		if len(h) != 2 {
			t.Fatalf("history %+v, want two failures", h)
		}
		for _, ev := range h {
			if ev.Success || ev.Reason != "bad_password" || ev.IP != testIP || ev.Device == "" || ev.Method != identity.MethodPassword {
				t.Errorf("history entry %+v", ev)
			}
		}
		if e.countEvents("account:"+a.ID, "login.failure") != 2 {
			t.Errorf("audit: %+v", e.events("account:"+a.ID))
		}
		e.wantEvent("account:"+a.ID, "login.failure", map[string]any{"reason": "bad_password", "method": "password"})
		if n := e.countEvents("", "session.create"); n != 0 {
			t.Errorf("%d sessions created by failed sign-ins", n)
		}
	})
}

// TestLoginBackoffAndLock covers CP-8.2 with the production lockout
// settings: exponential back-off after the third failure (an attempt inside
// it fails even with the right password, and does not count), a lock at
// the threshold for LockDuration, the owner told by inbox and email with
// time and IP, and a successful sign-in after the lock clearing it.
func TestLoginBackoffAndLock(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, encouraged)
		const addr = "lee@example.com"
		a := e.customer(addr, pwA)
		l := e.profile.Lockout
		fail := func(i int) {
			t.Helper()
			_, err := e.login(addr, pwB)
			wantSignInFailed(t, "failure", err)
		}
		fail(1)
		fail(2)
		fail(3)
		// Inside the back-off (1 s after the third failure), even the right
		// password fails, and is recorded as throttled.
		e.tick(500 * time.Millisecond)
		_, err := e.login(addr, pwA)
		wantSignInFailed(t, "right password inside the back-off", err)
		if h := e.signIns(a.ID); h[0].Reason != "throttled" || h[0].Success {
			t.Errorf("latest history %+v, want throttled", h[0])
		}
		e.wantEvent("account:"+a.ID, "login.failure", map[string]any{"reason": "throttled"})
		// The back-off grows: 1 s, 2 s, 4 s, ... up to a minute.
		waits := map[int]time.Duration{3: time.Second, 4: 2 * time.Second, 5: 4 * time.Second, 6: 8 * time.Second,
			7: 16 * time.Second, 8: 32 * time.Second, 9: time.Minute}
		e.tick(500 * time.Millisecond)
		for n := 4; n < l.Threshold; n++ {
			fail(n)
			e.tick(waits[n] - time.Millisecond)
			_, err := e.login(addr, pwA)
			wantSignInFailed(t, "right password a moment before the back-off ends", err)
			e.tick(time.Millisecond)
		}
		if a := e.acct(a.ID); !a.LockedUntil.IsZero() {
			t.Fatalf("locked before the threshold: %+v", a)
		}
		fail(l.Threshold)
		lockedAt := clk.Now()
		got := e.acct(a.ID)
		if want := lockedAt.Add(l.LockDuration.Duration); !got.LockedUntil.Equal(want) || got.LockCount != 1 {
			t.Fatalf("locked until %v (count %d), want %v (1)", got.LockedUntil, got.LockCount, want)
		}
		e.wantEvent("account:"+a.ID, "account.lock", map[string]any{"lock": float64(1)})

		// The owner is told, in the inbox and by mail, when and from where.
		stamp := lockedAt.Format("2 January 2006 at 15:04 UTC")
		var found bool
		for _, n := range e.inbox(a.ID) {
			if n.Kind == "lockout" {
				found = true
				if !strings.Contains(n.Body, stamp) || !strings.Contains(n.Body, testIP) {
					t.Errorf("lockout notice lacks time or IP:\n%s", n.Body)
				}
			}
		}
		if !found {
			t.Error("no lockout notice in the inbox")
		}
		ms := e.mails(addr, "locked")
		if len(ms) != 1 || !strings.Contains(ms[0].Text, stamp) || !strings.Contains(ms[0].Text, testIP) {
			t.Errorf("lockout mail: %+v", ms)
		}

		// Locked: the right password fails, right up to the end of the lock.
		e.tick(l.LockDuration.Duration - time.Second)
		_, err = e.login(addr, pwA)
		wantSignInFailed(t, "right password while locked", err)
		if h := e.signIns(a.ID); h[0].Reason != "locked" {
			t.Errorf("latest history %+v, want locked", h[0])
		}
		e.tick(time.Second)
		si, err := e.login(addr, pwA)
		if err != nil || si.Next != identity.StepDone {
			t.Fatalf("after the lock: %+v, %v", si, err)
		}
		if got := e.acct(a.ID); !got.LockedUntil.IsZero() || got.LockCount != 0 {
			t.Errorf("success left the lock state: %+v", got)
		}
	})
}

// TestLockGrowsToTheCap covers CP-8.2: each lock before a successful
// sign-in lasts BackoffBase times the one before, up to MaxLockDuration.
func TestLockGrowsToTheCap(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{profile: policy.MTLWeb, tweak: func(p *policy.Profile) {
			p.Lockout.Threshold = 3
			p.Lockout.LockDuration = policy.Duration{Duration: 15 * time.Minute}
			p.Lockout.BackoffBase = 2
			p.Lockout.MaxLockDuration = policy.Duration{Duration: time.Hour}
		}})
		const addr = "max@example.com"
		a := e.customer(addr, pwA)
		for i, want := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour, time.Hour} {
			for range 3 {
				e.login(addr, pwB)
			}
			got := e.acct(a.ID)
			if d := got.LockedUntil.Sub(clk.Now()); d != want || got.LockCount != i+1 {
				t.Fatalf("lock %d: %v (count %d), want %v", i+1, d, got.LockCount, want)
			}
			e.tick(want)
		}
		// A successful sign-in starts the series again.
		e.mustLogin(addr, pwA)
		e.tick(time.Second)
		for range 3 {
			e.login(addr, pwB)
		}
		if d := e.acct(a.ID).LockedUntil.Sub(clk.Now()); d != 15*time.Minute {
			t.Errorf("first lock after a success: %v", d)
		}
	})
}

// TestSuccessResetsFailures covers CP-8.2: failures before a successful
// sign-in do not count towards the next lock.
func TestSuccessResetsFailures(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{profile: policy.MTLWeb, tweak: func(p *policy.Profile) { p.Lockout.Threshold = 3 }})
		const addr = "ray@example.com"
		a := e.customer(addr, pwA)
		e.login(addr, pwB)
		e.login(addr, pwB)
		e.tick(time.Second)
		e.mustLogin(addr, pwA)
		e.tick(time.Second)
		e.login(addr, pwB)
		e.login(addr, pwB)
		if got := e.acct(a.ID); !got.LockedUntil.IsZero() {
			t.Fatalf("locked by failures on both sides of a success: %+v", got)
		}
		e.mustLogin(addr, pwA)
	})
}

// TestResetLiftsLock covers CP-8.2 and CP-4.3: a password reset lifts the
// lock at once and starts the failure count afresh, so the owner signs in
// with the new password straight away and one typo does not lock again.
func TestResetLiftsLock(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, encouraged)
		const addr = "sam@example.com"
		a := e.customer(addr, pwA)
		for n := 1; n <= e.profile.Lockout.Threshold; n++ {
			e.login(addr, pwB)
			e.tick(time.Minute) // past any back-off
		}
		if e.acct(a.ID).LockedUntil.IsZero() {
			t.Fatal("not locked")
		}
		// The owner resets within seconds of the last failure.
		e.clk.Add(-time.Minute + 5*time.Second)
		if err := e.svc.RequestReset(e.ctx, addr, testIP); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ResetPassword(e.ctx, e.lastLink(addr, "Reset your", "/reset/"), pwC); err != nil {
			t.Fatal(err)
		}
		// The lock goes; its count stays, so the next lock (if someone
		// keeps guessing) is longer, not the first again.
		if got := e.acct(a.ID); !got.LockedUntil.IsZero() || got.LockCount != 1 {
			t.Errorf("after the reset: locked until %v, lock count %d; want no lock, count kept", got.LockedUntil, got.LockCount)
		}
		e.tick(time.Second)
		if _, err := e.login(addr, pwC); err != nil {
			t.Errorf("sign-in with the new password right after the reset: %v", err)
		}
		e.tick(time.Second)
		_, err := e.login(addr, pwA) // the old password, once
		wantSignInFailed(t, "old password", err)
		e.tick(time.Second)
		if _, err := e.login(addr, pwC); err != nil {
			t.Errorf("one typo after a reset locked the account again: %v (%+v)", err, e.acct(a.ID))
		}
	})
}

// TestLoginDisabledAndUnverified covers CP-8.2 and MTL-2.1.2: a disabled
// account never signs in; an unverified one is sent a fresh link when the
// password is right, and gets the generic failure when it is not.
func TestLoginDisabledAndUnverified(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, encouraged)
		a := e.customer("off@example.com", pwA)
		si := e.mustLogin("off@example.com", pwA)
		e.tick(time.Second)
		if err := e.svc.SetDisabled(e.ctx, a.ID, true); err != nil {
			t.Fatal(err)
		}
		if e.authenticates(si.Token) {
			t.Error("disabling left a session alive")
		}
		e.wantEvent("account:"+a.ID, "account.disable", map[string]any{"sessions_ended": float64(1)})
		_, err := e.login("off@example.com", pwA)
		wantSignInFailed(t, "disabled account", err)
		if h := e.signIns(a.ID); h[0].Reason != "disabled" {
			t.Errorf("history %+v", h[0])
		}

		if err := e.svc.SignUp(e.ctx, signUpInput("new@example.com", pwA)); err != nil {
			t.Fatal(err)
		}
		first := e.lastLink("new@example.com", "Confirm", "/verify/")
		sessions := e.countEvents("", "session.create")
		_, err = e.login("new@example.com", pwB)
		wantSignInFailed(t, "unverified, wrong password", err)
		e.tick(time.Minute)
		_, err = e.login("new@example.com", pwA)
		if apperr.CodeOf(err) != apperr.Forbidden || !strings.Contains(apperr.MessageOf(err), "Confirm your email address") {
			t.Errorf("unverified, right password: %v", err)
		}
		second := e.lastLink("new@example.com", "Confirm", "/verify/")
		if second == first || e.svc.VerifyLinkValid(e.ctx, first) || !e.svc.VerifyLinkValid(e.ctx, second) {
			t.Error("no fresh link replacing the first")
		}
		if n := e.countEvents("", "session.create"); n != sessions {
			t.Errorf("%d sessions created for an unverified account", n-sessions)
		}
	})
}

// TestRateLimits covers CP-8.2: per address and per network limits on
// sign-in, and per address on sign-up, reset and second factor. Over a
// limit nothing is checked, whatever the credentials.
func TestRateLimits(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{tweak: func(p *policy.Profile) {
			p.RateLimit = policy.RateLimit{Window: policy.Duration{Duration: 15 * time.Minute},
				LoginPerIP: 3, LoginPerNetwork: 5, SignupPerIP: 2, ResetPerIP: 2, MFAPerIP: 2}
		}})
		a := e.customer("rl@example.com", pwA)
		secret, _ := e.enrolTOTP(a.ID)
		login := func(ip string) (identity.SignIn, error) {
			return e.svc.Login(e.ctx, identity.Credentials{Email: "rl@example.com", Password: pwA, IP: ip, UserAgent: testUA})
		}
		throttled := func(what string, err error) {
			t.Helper()
			if apperr.CodeOf(err) != apperr.RateLimited {
				t.Errorf("%s: %v, want RateLimited", what, err)
			}
		}
		for i := range 3 {
			if _, err := login("198.51.100.7"); err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		before, audits := len(e.signIns(a.ID)), len(e.events(""))
		_, err := login("198.51.100.7")
		throttled("4th sign-in from one address", err)
		_, err = e.svc.Login(e.ctx, identity.Credentials{Email: "rl@example.com", Password: pwB, IP: "198.51.100.7"})
		throttled("wrong password over the limit", err)
		if len(e.signIns(a.ID)) != before || len(e.events("")) != audits {
			t.Error("an attempt over the limit was checked against the account")
		}
		// The network (/24) has had 5; one more address in it is over.
		_, err = login("198.51.100.8")
		throttled("6th sign-in from the network", err)
		_, err = login("198.51.100.9")
		throttled("7th sign-in from the network", err)
		if _, err := login("203.0.113.5"); err != nil {
			t.Errorf("another network: %v", err)
		}
		e.tick(15 * time.Minute)
		pending, err := login("198.51.100.7")
		if err != nil {
			t.Fatalf("after the window: %v", err)
		}

		// Second factor: two tries per address; the third fails even with
		// the right code.
		for range 2 {
			_, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, "000000", "192.0.2.1", testUA)
			if apperr.CodeOf(err) != apperr.Unauthorized {
				t.Fatalf("wrong code: %v", err)
			}
			e.tick(30 * time.Second) // keep clear of back-off and code reuse
		}
		_, err = e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), "192.0.2.1", testUA)
		throttled("3rd code from one address", err)
		if _, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), "192.0.2.2", testUA); err != nil {
			t.Errorf("code from another address: %v", err)
		}

		for i := range 2 {
			if err := e.svc.SignUp(e.ctx, signUpInput("su"+string(rune('a'+i))+"@example.com", pwA)); err != nil {
				t.Fatal(err)
			}
		}
		accounts := e.countAccounts()
		throttled("3rd sign-up", e.svc.SignUp(e.ctx, signUpInput("suc@example.com", pwA)))
		if e.countAccounts() != accounts {
			t.Error("a throttled sign-up created an account")
		}

		for range 2 {
			if err := e.svc.RequestReset(e.ctx, "rl@example.com", testIP); err != nil {
				t.Fatal(err)
			}
		}
		throttled("3rd reset", e.svc.RequestReset(e.ctx, "rl@example.com", testIP))
		if n := len(e.mails("rl@example.com", "Reset your")); n != 2 {
			t.Errorf("%d reset mails, want 2", n)
		}
		// Nothing about addresses is stored in the counters.
		var n int
		if err := d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM rate_limits`).Scan(&n); err != nil || n == 0 {
			t.Fatalf("rate_limits: %d, %v", n, err)
		}
	})
}

// TestResetKeepsLockFromWrongCodes covers CP-8.2: a password reset lifts a
// lock caused by wrong passwords (TestResetLiftsLock) but not one caused by
// wrong second-factor codes, whose guesser may hold the mailbox too.
func TestResetKeepsLockFromWrongCodes(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{tweak: func(p *policy.Profile) { p.Lockout.Threshold = 3 }})
		const addr = "codes@example.com"
		a := e.customer(addr, pwA)
		secret, _ := e.enrolTOTP(a.ID)
		pending := e.mustLogin(addr, pwA)
		for i := 0; i < 3; i++ {
			e.tick(time.Minute) // past any back-off
			_, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, "000000", testIP, testUA)
			if apperr.CodeOf(err) != apperr.Unauthorized {
				t.Fatalf("wrong code %d: %v", i, err)
			}
		}
		locked := e.acct(a.ID).LockedUntil
		if locked.IsZero() {
			t.Fatal("three wrong codes did not lock at threshold 3")
		}
		e.tick(time.Second)
		if err := e.svc.RequestReset(e.ctx, addr, testIP); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ResetPassword(e.ctx, e.lastLink(addr, "Reset your", "/reset/"), pwC); err != nil {
			t.Fatal(err)
		}
		if got := e.acct(a.ID).LockedUntil; !got.Equal(locked) {
			t.Fatalf("after the reset: locked until %v, want the lock kept until %v", got, locked)
		}
		e.tick(time.Second)
		_, err := e.login(addr, pwC)
		wantSignInFailed(t, "new password while the code lock holds", err)
		clk.Add(locked.Sub(clk.Now()) + time.Second)
		si := e.mustLogin(addr, pwC)
		if _, err := e.svc.VerifySecondFactor(e.ctx, si.Session, e.code(secret, 0), testIP, testUA); err != nil {
			t.Errorf("right code after the lock ran out: %v", err)
		}
	})
}

// TestSecondFactorFailuresLock covers CP-8.2 and CP-4.1: wrong codes count
// towards the same lock as wrong passwords; once locked, neither the right
// code nor the right password gets through.
func TestSecondFactorFailuresLock(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{tweak: func(p *policy.Profile) { p.Lockout.Threshold = 3 }})
		const addr = "mfa@example.com"
		a := e.customer(addr, pwA)
		secret, _ := e.enrolTOTP(a.ID)
		pending := e.mustLogin(addr, pwA)
		if pending.Next != identity.StepSecondFactor {
			t.Fatalf("next %s", pending.Next)
		}
		for _, c := range []string{"123456", "abcdefghijklmnop"} {
			_, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, c, testIP, testUA)
			if apperr.CodeOf(err) != apperr.Unauthorized {
				t.Fatalf("wrong code %q: %v", c, err)
			}
		}
		e.wantEvent("account:"+a.ID, "login.failure", map[string]any{"reason": "bad_code"})
		_, err := e.login(addr, pwB)
		wantSignInFailed(t, "wrong password", err)
		if e.acct(a.ID).LockedUntil.IsZero() {
			t.Fatal("two wrong codes and a wrong password did not lock at threshold 3")
		}
		_, err = e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), testIP, testUA)
		if apperr.CodeOf(err) != apperr.Unauthorized {
			t.Errorf("right code while locked: %v", err)
		}
		_, err = e.login(addr, pwA)
		wantSignInFailed(t, "right password while locked", err)
		if len(e.mails(addr, "locked")) != 1 {
			t.Error("no lockout mail")
		}
	})
}

// TestNewDeviceNotice covers CP-9.1 and CP-8.2: a sign-in from a device or
// country the account has not used before is notified; the first sign-in
// and a known device are not.
func TestNewDeviceNotice(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, encouraged)
		a := e.customer("dev@example.com", pwA)
		signIn := func(ip, ua string) {
			t.Helper()
			e.tick(time.Second)
			if _, err := e.svc.Login(e.ctx, identity.Credentials{Email: "dev@example.com", Password: pwA, IP: ip, UserAgent: ua}); err != nil {
				t.Fatal(err)
			}
		}
		notices := func() int {
			n := 0
			for _, it := range e.inbox(a.ID) {
				if it.Kind == "new-sign-in" {
					n++
				}
			}
			return n
		}
		signIn(testIP, testUA)
		signIn(testIP, testUA)
		if n := notices(); n != 0 {
			t.Fatalf("%d new-sign-in notices for the first device", n)
		}
		signIn(testIP, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1")
		if n := notices(); n != 1 {
			t.Fatalf("%d notices after a new device, want 1", n)
		}
		e.wantEvent("account:"+a.ID, "login.success", map[string]any{"new_device": true})
		signIn("8.8.8.8", testUA) // same device, another country
		if n := notices(); n != 2 {
			t.Errorf("%d notices after a new country, want 2", n)
		}
		signIn(testIP, testUA)
		if n := notices(); n != 2 {
			t.Errorf("a known device was notified")
		}
		if ms := e.mails("dev@example.com", "New sign-in"); len(ms) != 2 || !strings.Contains(ms[0].Text, testIP) {
			t.Errorf("new sign-in mails: %d", len(ms))
		}
	})
}

// TestParallelGuessesAreCounted covers CP-8.2 under concurrency: a burst of
// wrong passwords and wrong codes sent at the same moment cannot all pass
// the back-off before any is counted; the gate and the count are one step.
//
// The database's clock stands still for the burst: on a slow machine (the
// race detector, the whole suite in parallel) the burst can outlast the
// one-second back-off after the third failure, and a fourth check would
// then be allowed by the policy, not slipped past the gate.
func TestParallelGuessesAreCounted(t *testing.T) {
	clock := dbtest.NewClock(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, encouraged)
		a := e.customer("burst@example.com", pwA)
		const n = 40
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, err := e.login("burst@example.com", pwB); apperr.CodeOf(err) != apperr.Unauthorized {
					t.Errorf("parallel login: %v", err)
				}
			})
		}
		wg.Wait()
		var checked int
		if err := d.QueryRowContext(e.ctx,
			`SELECT COUNT(*) FROM sign_in_events WHERE account_id = $1 AND reason = 'bad_password'`, a.ID).Scan(&checked); err != nil {
			t.Fatal(err)
		}
		// Three tries pass before the back-off (the fourth must wait a
		// second), so at most three passwords were really checked.
		if checked > 3 {
			t.Errorf("%d of %d parallel wrong passwords were checked; the back-off allows 3", checked, n)
		}
		var pending int
		d.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM sign_in_events WHERE account_id = $1 AND reason = 'pending'`, a.ID).Scan(&pending)
		if pending != 0 {
			t.Errorf("%d attempts were left pending", pending)
		}
	})
}

// TestFailuresTarpitUnderAFlood covers MTL-1.1 and CP-8.2: while many
// sign-ins are in progress, a failed one (known or unknown address alike,
// CP-6.3) answers only after the tarpit's delay, and a successful one does
// not wait; with few in progress nobody waits.
func TestFailuresTarpitUnderAFlood(t *testing.T) {
	if identity.TarpitDelay(32) != 0 || identity.TarpitDelay(33) <= 0 || identity.TarpitDelay(1_000_000) != 20*time.Second {
		t.Fatalf("tarpit delays: %v at 32, %v at 33, %v at a million", identity.TarpitDelay(32), identity.TarpitDelay(33), identity.TarpitDelay(1_000_000))
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, encouraged)
		const addr = "tarpit@example.com"
		e.customer(addr, pwA)
		e.svc.AddSigningIn(40) // a flood in progress
		want := identity.TarpitDelay(41)
		for _, tc := range []struct{ email, pw string }{{addr, pwB}, {"nobody.here@example.com", pwB}} {
			start := time.Now()
			_, err := e.login(tc.email, tc.pw)
			wantSignInFailed(t, tc.email, err)
			if took := time.Since(start); took < want {
				t.Errorf("a failed sign-in for %s under a flood answered after %v, before the tarpit's %v", tc.email, took, want)
			}
		}
		start := time.Now()
		if _, err := e.login(addr, pwA); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took >= want {
			t.Errorf("a successful sign-in waited %v under the flood: only failures are held", took)
		}
	})
}
