package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/mailtest"
)

// TestStepUpKeepsActionsInBrowser covers MTL-3.2.2 and CP-6.3 in Chromium:
// for sensitive forms of a customer, a support agent and an administrator,
// sent after the step-up window, the confirmation page says what the
// password is for, and confirming it carries the form out as it was typed
// (see also TestSupportRevealInBrowser and TestDataRightsInBrowser for the
// reveal and the data export, and TestEverySensitiveRouteKeepsItsAction in
// internal/web for every such route over HTTP).
func TestStepUpKeepsActionsInBrowser(t *testing.T) {
	root := chromium(t)
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL())
	r := startApp(t, cfg)
	base := r.URL()
	ids, closeIDs, err := app.NewIdentity(r.Storage(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeIDs() })
	const pw = "velvet-harbour-quietly-92-lanterns" // signedIn's password
	stale := func() {
		t.Helper()
		at := time.Now().Add(-r.Storage().Profile.Session.StepUpWindow.Duration - time.Minute)
		if err := r.Storage().DB.Transact(context.Background(), func(tx *db.Tx) error {
			_, err := tx.ExecContext(context.Background(), `UPDATE sessions SET reauth_at = $1`, at)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// confirm expects the password page for purpose, and confirms it.
	confirm := func(b *tab, purpose string) {
		t.Helper()
		if p := b.path(t); !strings.HasPrefix(p, "/account/reauth?action=") {
			t.Fatalf("a stale form landed on %s, want the password confirmation", p)
		}
		if got := b.text(t, "main"); !strings.Contains(got, purpose) {
			t.Errorf("the confirmation page does not say %q: %q", purpose, got)
		}
		b.submit(t, `form[action="/account/reauth"] button[type=submit]`, field{"#password", pw})
		if h := b.text(t, "h1"); h == "Confirm it is you" {
			t.Fatalf("still asked for the password after giving it: %q", b.text(t, "main"))
		}
	}

	probe := newTab(t, root, "probe", base, false, "")
	probe.open(t, "/security")
	ua := js[string](t, probe, `navigator.userAgent`)

	t.Run("customer changes the email address", func(t *testing.T) {
		tok, _ := signedIn(t, r.Storage(), ids, "held.customer@example.test", access.RoleCustomer, ua)
		b := newTab(t, root, "customer", base, true, "")
		b.setSession(t, tok)
		b.open(t, "/account/email")
		stale()
		b.submit(t, `form[action="/account/email"] button[type=submit]`, field{"#email", "held.new@example.test"})
		confirm(b, "to change your email address")
		if got := b.text(t, "main"); !strings.Contains(got, "sent a link to the new address") {
			t.Errorf("after the password: %q", got)
		}
		mail.WaitFor(t, func(m mailtest.Message) bool {
			return strings.Contains(strings.Join(m.To, ","), "held.new@example.test") && strings.Contains(m.Subject, "Confirm your new email address")
		}, 20*time.Second)

		b.open(t, "/account/security")
		stale()
		b.submit(t, `form[action="/account/recovery-codes"] button[type=submit]`)
		confirm(b, "to make new recovery codes")
		if h := b.text(t, "h1"); h != "Your recovery codes" || len(b.texts(t, "ol.codes code")) != 10 {
			t.Errorf("after the password: h1 %q, %d codes", h, len(b.texts(t, "ol.codes code")))
		}
	})

	t.Run("support agent creates an API token", func(t *testing.T) {
		tok, _ := signedIn(t, r.Storage(), ids, "held.agent@example.test", access.RoleSupport, ua)
		b := newTab(t, root, "agent", base, true, "")
		b.setSession(t, tok)
		b.open(t, "/account/tokens")
		b.action(t, "choose a permission", chromedp.Click(chromedp.CSS(`input[name=scope][value="ticket.queue"]`)))
		stale()
		b.submit(t, `form[action="/account/tokens"] button[type=submit]`, field{"#token-name", "held export script"})
		confirm(b, "to create an API token")
		if got := b.text(t, "#new-token"); got == "" {
			t.Errorf("no new token after the password: %q", b.text(t, "main"))
		}
		if got := b.text(t, "main"); !strings.Contains(got, "held export script") {
			t.Error("the token was not made with the name typed before the password")
		}
	})

	t.Run("administrator rotates the master key", func(t *testing.T) {
		tok, _ := signedIn(t, r.Storage(), ids, "held.admin@example.test", access.RoleAdmin, ua)
		b := newTab(t, root, "admin", base, true, "")
		b.setSession(t, tok)
		b.open(t, "/admin/keys")
		stale()
		b.submit(t, `form[action="/admin/keys/rotate"] button[type=submit]`)
		confirm(b, "to rotate the master key")
		if got := b.text(t, ".flash"); !strings.Contains(got, "rotated") {
			t.Errorf("after the password: flash %q, main %q", got, b.text(t, "main"))
		}
	})
}
