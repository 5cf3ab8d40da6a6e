package identity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestEmailChange covers CP-6.3 and MTL-2.1.3: a new address takes effect
// only when its link is opened, the old address is told, an address that
// belongs to another account is neither taken nor revealed, and the link
// works once.
func TestEmailChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, encouraged)
		a := e.customer("old@example.com", pwA)
		e.customer("taken@example.com", pwA)

		if err := e.svc.RequestEmailChange(e.ctx, a.ID, "OLD@example.com"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("change to the same address: %v", err)
		}
		// Another account's address: same answer, nothing pending, the
		// other owner is told.
		if err := e.svc.RequestEmailChange(e.ctx, a.ID, "taken@example.com"); err != nil {
			t.Fatalf("change to a taken address: %v", err)
		}
		if len(e.mails("taken@example.com", "another Portico account")) != 1 {
			t.Error("the owner of the taken address was not told")
		}

		if err := e.svc.RequestEmailChange(e.ctx, a.ID, "new@example.com"); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.svc.Email(e.ctx, a.ID); got != "old@example.com" {
			t.Fatalf("the address changed before the link was opened: %q", got)
		}
		if m := e.mails("old@example.com", "change of your email address was requested"); len(m) != 1 || !strings.Contains(m[0].Text, "n***@example.com") {
			t.Fatalf("the current address was not told (masked): %v", m)
		}
		token := e.lastLink("new@example.com", "Confirm your new email", "/email/")
		if !e.svc.EmailLinkValid(e.ctx, token) {
			t.Fatal("the link is not valid")
		}
		if err := e.svc.ConfirmEmailChange(e.ctx, token); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.svc.Email(e.ctx, a.ID); got != "new@example.com" {
			t.Fatalf("email = %q after confirming", got)
		}
		if _, err := e.svc.FindByEmail(e.ctx, "new@example.com"); err != nil {
			t.Errorf("the new address does not find the account: %v", err)
		}
		if _, err := e.svc.FindByEmail(e.ctx, "old@example.com"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("the old address still finds the account: %v", err)
		}
		if len(e.mails("old@example.com", "Your email address was changed")) != 1 {
			t.Error("the old address was not told of the change")
		}
		if err := e.svc.ConfirmEmailChange(e.ctx, token); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("the link worked twice: %v", err)
		}
		if _, err := e.login("new@example.com", pwA); err != nil {
			t.Errorf("sign-in with the new address: %v", err)
		}
		e.wantEvent("account:"+a.ID, "email.change", nil)
	})
}

// TestAddressInUseNoticeThrottled covers CP-6.3: asking again and again to
// move an account to someone else's address, or to sign up with it, does
// not flood its owner: one notice a day, every attempt still audited.
func TestAddressInUseNoticeThrottled(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, encouraged)
		a := e.customer("mover@example.com", pwA)
		owner := e.customer("victim@example.com", pwA)
		told := func() int {
			return len(e.mails("victim@example.com", "another Portico account")) +
				len(e.mails("victim@example.com", "create an account with your address"))
		}
		for i := 0; i < 5; i++ {
			e.tick(time.Minute)
			if err := e.svc.RequestEmailChange(e.ctx, a.ID, "victim@example.com"); err != nil {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		e.tick(time.Minute)
		if err := e.svc.SignUp(e.ctx, signUpInput("victim@example.com", pwB)); err != nil {
			t.Fatal(err)
		}
		if n := told(); n != 1 {
			t.Errorf("the owner got %d notices for six attempts within a day, want 1", n)
		}
		e.wantEvent("account:"+owner.ID, "account.signup", map[string]any{"reason": "address_in_use", "owner_notified": false})
		e.tick(25 * time.Hour)
		if err := e.svc.RequestEmailChange(e.ctx, a.ID, "victim@example.com"); err != nil {
			t.Fatal(err)
		}
		if n := told(); n != 2 {
			t.Errorf("a day later: %d notices, want 2", n)
		}
	})
}
