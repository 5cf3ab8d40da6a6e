package app_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/portico/portico/internal/access"
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
	ids := identityFor(t, r, cfg)
	const pw = "velvet-harbour-quietly-92-lanterns" // signedIn's password
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
		staleSessions(t, r)
		b.submit(t, `form[action="/account/email"] button[type=submit]`, field{"#email", "held.new@example.test"})
		confirm(b, "to change your email address")
		if got := b.text(t, "main"); !strings.Contains(got, "sent a link to the new address") {
			t.Errorf("after the password: %q", got)
		}
		mail.WaitFor(t, func(m mailtest.Message) bool {
			return strings.Contains(strings.Join(m.To, ","), "held.new@example.test") && strings.Contains(m.Subject, "Confirm your new email address")
		}, 20*time.Second)

		b.open(t, "/account/security")
		staleSessions(t, r)
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
		staleSessions(t, r)
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
		staleSessions(t, r)
		b.submit(t, `form[action="/admin/keys/rotate"] button[type=submit]`)
		confirm(b, "to rotate the master key")
		if got := b.text(t, ".flash"); !strings.Contains(got, "rotated") {
			t.Errorf("after the password: flash %q, main %q", got, b.text(t, "main"))
		}
	})
}

// TestEverySensitiveFormKeepsItsActionInBrowser covers MTL-3.2.2 in
// Chromium, for every route of docs/access-matrix.md marked *step-up* (the
// generated route table, kept true by TestRouteMatrix) and every form
// whose handler asks for a fresh password itself, for every role that may
// send it: a stale session posting it from a Portico page is asked for the
// password, and once it is confirmed the request is carried out (its own
// answer, whatever it is, comes back: not the password page again, and not
// "the action expired"). IDs in paths are unknown ones, so no real object
// changes; the forms with real data are TestStepUpKeepsActionsInBrowser's.
func TestEverySensitiveFormKeepsItsActionInBrowser(t *testing.T) {
	root := chromium(t)
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL())
	r := startApp(t, cfg)
	base := r.URL()
	ids := identityFor(t, r, cfg)
	const pw = "velvet-harbour-quietly-92-lanterns"

	matrix, err := os.ReadFile(filepath.Join("..", "..", "docs", "access-matrix.md"))
	if err != nil {
		t.Fatal(err)
	}
	roles := []access.Role{access.RoleCustomer, access.RoleSupport, access.RoleSecurity, access.RoleAdmin, access.RoleAuditor}
	column := map[access.Role]int{access.RoleCustomer: 4, access.RoleSupport: 5, access.RoleSecurity: 6, access.RoleAdmin: 7, access.RoleAuditor: 8} // after the route, permission and anonymous cells
	forms := map[access.Role][]string{}
	for _, line := range strings.Split(string(matrix), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 10 || !strings.Contains(cells[2], "*step-up*") || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`POST ") {
			continue
		}
		path := strings.Trim(strings.TrimPrefix(strings.TrimSpace(cells[1]), "`POST "), "`")
		path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
		for _, role := range roles {
			if strings.TrimSpace(cells[column[role]]) == "✓" {
				forms[role] = append(forms[role], path)
			}
		}
	}
	if len(forms[access.RoleAdmin]) < 8 || len(forms[access.RoleCustomer]) < 2 {
		t.Fatalf("too few step-up routes read from docs/access-matrix.md: %v", forms)
	}
	// Handlers that ask for the password themselves, for everyone.
	for _, role := range roles {
		forms[role] = append(forms[role], "/account/email", "/account/mfa/totp/start", "/account/recovery-codes", "/account/passkeys/x/remove")
	}

	probe := newTab(t, root, "probe", base, false, "")
	probe.open(t, "/security")
	ua := js[string](t, probe, `navigator.userAgent`)
	for _, role := range roles {
		t.Run(string(role), func(t *testing.T) {
			tok, _ := signedIn(t, r.Storage(), ids, "every."+string(role)+"@example.test", role, ua)
			b := newTab(t, root, string(role), base, false, "") // the default browser context, where downloads are allowed; roles run one after another
			b.setSession(t, tok)
			for _, path := range forms[role] {
				staleSessions(t, r)
				done := b.expectConsole("status of")
				b.open(t, "/account")
				// A form on a Portico page, as the pages have them: the
				// form token of the page and a field of its own.
				js[bool](t, b, `(function(){var f=document.createElement("form");f.method="post";f.action=`+strconv.Quote(path)+`;f.id="probe";`+
					`var c=document.querySelector('input[name="csrf_token"]');if(c){f.appendChild(c.cloneNode())}`+
					`var i=document.createElement("input");i.type="hidden";i.name="probe";i.value="1";f.appendChild(i);`+
					`var s=document.createElement("button");s.type="submit";f.appendChild(s);document.body.appendChild(f);return true})()`)
				b.submit(t, "#probe button")
				if p := b.path(t); !strings.HasPrefix(p, "/account/reauth?action=") {
					t.Errorf("POST %s: a stale form landed on %s, not the password confirmation", path, p)
					done()
					continue
				}
				if got := b.text(t, "main"); !strings.Contains(got, "Type your password to") {
					t.Errorf("POST %s: the confirmation page does not say what it is for: %q", path, got)
				}
				if path == "/admin/audit/export" {
					// The answer is a download: the held export arrives
					// as a file.
					dir := t.TempDir()
					if _, err := chromedp.Call(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
						Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
						t.Fatal(err)
					}
					b.action(t, "confirm the password", chromedp.SetValue(chromedp.CSS("#password"), pw),
						chromedp.Click(chromedp.CSS(`form[action="/account/reauth"] button[type=submit]`)))
					var got []string
					for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && len(got) == 0; time.Sleep(100 * time.Millisecond) {
						got, _ = filepath.Glob(filepath.Join(dir, "portico-audit-*.jsonl"))
					}
					if n := heldActions(t, r.Storage().DB); n != 0 {
						t.Errorf("POST %s: %d held actions left after the password", path, n)
					}
					if len(got) == 0 {
						t.Errorf("POST %s: no export arrived after the password (page %s: %.300q)", path, b.path(t), b.text(t, "main"))
					}
					done()
					continue
				}
				b.submit(t, `form[action="/account/reauth"] button[type=submit]`, field{"#password", pw})
				if h := b.text(t, "h1"); h == "Confirm it is you" || strings.Contains(b.path(t), "stepup-lapsed") {
					t.Errorf("POST %s: after the password %s, %q: the held action was not carried out", path, b.path(t), h)
				}
				if n := heldActions(t, r.Storage().DB); n != 0 {
					t.Errorf("POST %s: %d held actions left after the password: it was not released to be carried out", path, n)
				}
				done()
			}
		})
	}
}

// heldActions counts the step-up actions waiting on the server.
func heldActions(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM pending_actions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
