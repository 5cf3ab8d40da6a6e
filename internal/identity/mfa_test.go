package identity_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

func (e *env) stage(s session.Session) identity.Step {
	e.t.Helper()
	_, st, err := e.svc.Stage(e.ctx, s)
	if err != nil {
		e.t.Fatalf("Stage: %v", err)
	}
	return st
}

func wantCodeFailed(t *testing.T, what string, err error) {
	t.Helper()
	if apperr.CodeOf(err) != apperr.Unauthorized || !strings.Contains(apperr.MessageOf(err), "That code is not right") {
		t.Errorf("%s: %v, want the generic code failure", what, err)
	}
}

// TestSecondFactorStep covers CP-4.1 and CP-6.3: the password alone gives
// an AAL-1 session restricted to the second factor; the right code rotates
// it into a new AAL-2 session and the old token stops working.
func TestSecondFactorStep(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		a := e.customer("two@example.com", pwA)
		secret, _ := e.enrolTOTP(a.ID)
		pending := e.mustLogin("two@example.com", pwA)
		if pending.Next != identity.StepSecondFactor || pending.Session.AAL != 1 || pending.Token == "" {
			t.Fatalf("password step: %+v", pending)
		}
		if st := e.stage(pending.Session); st != identity.StepSecondFactor {
			t.Errorf("Stage of the pending session = %s", st)
		}
		if !e.authenticates(pending.Token) {
			t.Fatal("pending token does not authenticate")
		}
		e.wantEvent("account:"+a.ID, "login.password", nil)
		if e.countEvents("account:"+a.ID, "login.success") != 0 {
			t.Error("login.success before the second factor")
		}

		code := e.code(secret, 0)
		done, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, code[:3]+" "+code[3:], testIP, testUA)
		if err != nil {
			t.Fatalf("right code: %v", err)
		}
		if done.Next != identity.StepDone || done.Session.AAL != 2 || done.Token == pending.Token || done.Session.ID == pending.Session.ID {
			t.Errorf("after the code: %+v", done)
		}
		if e.authenticates(pending.Token) {
			t.Error("the pre-MFA token still authenticates after rotation")
		}
		if !e.authenticates(done.Token) || e.stage(done.Session) != identity.StepDone {
			t.Error("the new session is not fully signed in")
		}
		e.wantEvent("account:"+a.ID, "login.success", map[string]any{"session": done.Session.ID})

		// A full session is not waiting for a factor; the ended pending
		// session cannot be completed again, even with a fresh code.
		e.tick(30 * time.Second)
		_, err = e.svc.VerifySecondFactor(e.ctx, done.Session, e.code(secret, 0), testIP, testUA)
		wantCode(t, "second factor on a full session", err, apperr.Forbidden)
		if _, err := e.svc.VerifySecondFactor(e.ctx, pending.Session, e.code(secret, 0), testIP, testUA); err == nil {
			t.Error("an ended pending session was completed again")
		}
	})
}

// TestTOTPReplay covers CP-4.1: a code is accepted once, on any node; an
// older code is refused after a newer one; the enrolment code is spent.
func TestTOTPReplay(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		other := e.node(options{})
		const addr = "replay@example.com"
		a := e.customer(addr, pwA)
		if err := e.svc.StartTOTP(e.ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConfirmTOTP(e.ctx, a.ID, "000000"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("confirm with a wrong code: %v", err)
		}
		if e.acct(a.ID).TOTPEnabled {
			t.Fatal("enabled by a wrong code")
		}
		p, _, _ := e.svc.PendingTOTP(e.ctx, a.ID)
		secret := strings.ReplaceAll(p.Secret, " ", "")
		if len(p.QRPNG) == 0 || !bytes.HasPrefix(p.QRPNG, []byte("\x89PNG")) || !strings.HasPrefix(p.URI, "otpauth://totp/") {
			t.Errorf("enrolment %+v", p)
		}
		enrolCode := e.code(secret, 0)
		if _, err := e.svc.ConfirmTOTP(e.ctx, a.ID, enrolCode); err != nil {
			t.Fatal(err)
		}
		e.wantEvent("account:"+a.ID, "mfa.totp.enable", map[string]any{"recovery_codes_issued": float64(10)})

		verify := func(n *env, code string) error {
			t.Helper()
			pending, err := n.login(addr, pwA)
			if err != nil {
				t.Fatal(err)
			}
			_, err = n.svc.VerifySecondFactor(n.ctx, pending.Session, code, testIP, testUA)
			n.tick(time.Second) // outside any back-off
			return err
		}
		wantCodeFailed(t, "the enrolment code at sign-in", verify(e, enrolCode))

		e.tick(30 * time.Second)
		now := e.code(secret, 0)
		if err := verify(e, now); err != nil {
			t.Fatalf("fresh code: %v", err)
		}
		wantCodeFailed(t, "same code, same node", verify(e, now))
		wantCodeFailed(t, "same code, other node", verify(other, now))
		wantCodeFailed(t, "older code after a newer one", verify(other, e.code(secret, -1)))
		e.tick(30 * time.Second)
		next := e.code(secret, 0)
		if err := verify(other, next); err != nil {
			t.Fatalf("next code on the other node: %v", err)
		}
		wantCodeFailed(t, "next code replayed on the first node", verify(e, next))
		if n := e.countEvents("account:"+a.ID, "login.failure"); n != 5 {
			t.Errorf("%d login.failure events, want 5", n)
		}
	})
}

// TestRecoveryCodes covers MTL-3.1.2 and CP-4.1: codes are issued with the
// first factor, stored hashed, accepted in any case and with dashes or
// spaces, single use, voided by regeneration, and their use is notified.
func TestRecoveryCodes(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		const addr = "rc@example.com"
		a := e.customer(addr, pwA)
		_, codes := e.enrolTOTP(a.ID)
		if len(codes) != e.profile.MFA.RecoveryCodes {
			t.Fatalf("%d codes", len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			raw := strings.ReplaceAll(c, " ", "")
			if len(raw) != 16 || seen[raw] {
				t.Errorf("code %q", c)
			}
			seen[raw] = true
			if n := countBytes(t, e, `SELECT code_hash FROM recovery_codes`, raw); n != 0 {
				t.Error("a recovery code is stored in clear")
			}
		}
		other := e.customer("rc2@example.com", pwB)
		_, otherCodes := e.enrolTOTP(other.ID)

		use := func(code string) (identity.SignIn, error) {
			t.Helper()
			e.tick(time.Second)
			pending := e.mustLogin(addr, pwA)
			return e.svc.VerifySecondFactor(e.ctx, pending.Session, code, testIP, testUA)
		}
		dashed := strings.ToLower(strings.ReplaceAll(codes[0], " ", "-"))
		si, err := use(dashed)
		if err != nil || si.Session.AAL != 2 || si.Session.Methods[1] != identity.MethodRecovery {
			t.Fatalf("recovery code %q: %+v, %v", dashed, si, err)
		}
		if left, _ := e.svc.RecoveryCodesLeft(e.ctx, a.ID); left != 9 {
			t.Errorf("%d left, want 9", left)
		}
		e.wantEvent("account:"+a.ID, "mfa.recovery.use", map[string]any{"left": float64(9)})
		if ms := e.mails(addr, "A recovery code was used"); len(ms) != 1 || !strings.Contains(ms[0].Text, "9 recovery codes are left") {
			t.Errorf("recovery mail %+v", ms)
		}
		var inInbox bool
		for _, n := range e.inbox(a.ID) {
			inInbox = inInbox || n.Kind == "recovery-code-used"
		}
		if !inInbox {
			t.Error("no inbox notice of the recovery code")
		}

		_, err = use(codes[0])
		wantCodeFailed(t, "used code", err)
		_, err = use(otherCodes[0])
		wantCodeFailed(t, "another account's code", err)
		_, err = use("AAAA BBBB CCCC DDD!")
		wantCodeFailed(t, "malformed code", err)

		fresh, err := e.svc.RegenerateRecoveryCodes(e.ctx, a.ID)
		if err != nil || len(fresh) != 10 {
			t.Fatalf("regenerate: %d, %v", len(fresh), err)
		}
		e.wantEvent("account:"+a.ID, "mfa.recovery.regenerate", nil)
		_, err = use(codes[1])
		wantCodeFailed(t, "old code after regeneration", err)
		e.tick(time.Minute) // past the back-off of three failures
		if _, err := use(fresh[9]); err != nil {
			t.Errorf("new code: %v", err)
		}
		if _, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.customer("none@example.com", pwC).ID); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("codes without a factor: %v", err)
		}
	})
}

// countBytes counts the rows of a one-column query whose value contains s.
func countBytes(t *testing.T, e *env, query, s string) int {
	t.Helper()
	rows, err := e.d.QueryContext(e.ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(bytes.ToUpper(b), []byte(strings.ToUpper(s))) {
			n++
		}
	}
	return n
}

// TestMFAModes covers CP-4.1 and MTL-3.1.2: with MFA required an account
// without a factor may only enrol; encouraged lets the password complete
// sign-in; staff always need a second factor.
func TestMFAModes(t *testing.T) {
	clk := newClock()
	for _, tc := range []struct {
		name    string
		profile string
		role    access.Role
		factor  bool
		want    identity.Step
	}{
		{"required, customer without factor", policy.CustomerPortal, access.RoleCustomer, false, identity.StepEnrol},
		{"required, customer with TOTP", policy.CustomerPortal, access.RoleCustomer, true, identity.StepSecondFactor},
		{"encouraged, customer without factor", policy.MTLWeb, access.RoleCustomer, false, identity.StepDone},
		{"encouraged, customer with TOTP", policy.MTLWeb, access.RoleCustomer, true, identity.StepSecondFactor},
		{"encouraged, support agent without factor", policy.MTLWeb, access.RoleSupport, false, identity.StepEnrol},
		{"encouraged, administrator without factor", policy.MTLWeb, access.RoleAdmin, false, identity.StepEnrol},
		{"encouraged, auditor with TOTP", policy.MTLWeb, access.RoleAuditor, true, identity.StepSecondFactor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
				e := newEnv(t, d, clk, options{profile: tc.profile})
				a := e.account("m@example.com", pwC, tc.role)
				if tc.factor {
					e.enrolTOTP(a.ID)
				}
				si := e.mustLogin("m@example.com", pwC)
				if si.Next != tc.want || si.Session.AAL != 1 {
					t.Fatalf("Login: next %s, AAL %d; want %s, 1", si.Next, si.Session.AAL, tc.want)
				}
				if st := e.stage(si.Session); st != tc.want {
					t.Errorf("Stage = %s, want %s", st, tc.want)
				}
				if tc.want != identity.StepEnrol {
					return
				}
				// Enrolment in restricted mode upgrades the session.
				e.enrolTOTP(a.ID)
				up, err := e.svc.FinishEnrolment(e.ctx, si.Session, identity.MethodTOTP, testIP, testUA)
				if err != nil || up.Session.AAL != 2 || up.Next != identity.StepDone || e.authenticates(si.Token) {
					t.Errorf("FinishEnrolment: %+v, %v", up, err)
				}
			})
		})
	}
	t.Run("FinishEnrolment without a factor", func(t *testing.T) {
		dbtest.Each(t, func(t *testing.T, d *db.DB) {
			e := newEnv(t, d, nil, options{})
			e.customer("x@example.com", pwA)
			si := e.mustLogin("x@example.com", pwA)
			_, err := e.svc.FinishEnrolment(e.ctx, si.Session, identity.MethodTOTP, testIP, testUA)
			wantCode(t, "FinishEnrolment with nothing enrolled", err, apperr.Forbidden)
		})
	})
}

// TestRemoveTOTPLastFactor covers CP-4.1: the last second factor cannot be
// removed while the account must have one; otherwise removal is audited
// and notified.
func TestRemoveTOTPLastFactor(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		req := newEnv(t, d, clk, options{})
		enc := req.node(encouraged)
		cust := req.customer("c@example.com", pwA)
		staff := req.account("s@example.com", pwB, access.RoleSecurity)
		req.enrolTOTP(cust.ID)
		req.enrolTOTP(staff.ID)

		wantCode(t, "required profile", req.svc.RemoveTOTP(req.ctx, cust.ID), apperr.Conflict)
		wantCode(t, "staff on the encouraged profile", enc.svc.RemoveTOTP(enc.ctx, staff.ID), apperr.Conflict)
		if !req.acct(cust.ID).TOTPEnabled || !req.acct(staff.ID).TOTPEnabled {
			t.Fatal("a refused removal removed the factor")
		}
		if err := enc.svc.RemoveTOTP(enc.ctx, cust.ID); err != nil {
			t.Fatalf("encouraged customer: %v", err)
		}
		if req.acct(cust.ID).TOTPEnabled {
			t.Error("still enabled")
		}
		req.wantEvent("account:"+cust.ID, "mfa.totp.remove", nil)
		if len(req.mails("c@example.com", "authenticator app was removed")) != 1 {
			t.Error("no removal mail")
		}
		wantCode(t, "nothing to remove", enc.svc.RemoveTOTP(enc.ctx, cust.ID), apperr.NotFound)
		if si := enc.mustLogin("c@example.com", pwA); si.Next != identity.StepDone {
			t.Errorf("after removal: %s", si.Next)
		}
	})
}
