package app_test

import (
	"archive/zip"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
)

// TestDataRightsInBrowser drives a customer's data rights in Chromium
// (CP-11.1, MTL-2.1.1, MTL-2.1.2): they are asked to read the privacy
// notice and acknowledge it, give and withdraw a consent, download their
// data as a zip, and ask for their account to be deleted; when the grace
// period ends the account is erased, the session stops working and
// signing in is impossible. Every page is checked for CSP violations and
// console errors. On SQLite and PostgreSQL.
func TestDataRightsInBrowser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { dataRightsFlow(t, tc.extra(t)...) })
	}
}

func dataRightsFlow(t *testing.T, extra ...string) {
	root := chromium(t)
	mail := mailtest.Start(t)
	policyFile := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policyFile, []byte(e2ePolicy+"\n[privacy]\nerasure_grace = \"2s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e2eConfig(t, mail.URL(), append(extra, "--policy-file", policyFile)...)
	r := startApp(t, cfg)
	base := r.URL()
	ids := identityFor(t, r, cfg)

	b := newTab(t, root, "customer", base, false, "")
	b.open(t, "/security")
	ua := js[string](t, b, `navigator.userAgent`)
	const email = "rights.e2e@example.test"
	token, _ := signedIn(t, r.Storage(), ids, email, access.RoleCustomer, ua)
	b.setSession(t, token)

	// The notice: asked, read, acknowledged.
	b.open(t, "/account")
	if !strings.Contains(b.text(t, ".banner"), "We updated our privacy notice") {
		t.Fatalf("banner %q", b.text(t, ".banner"))
	}
	b.open(t, "/account/privacy-notice?next=/account")
	b.submit(t, "#acknowledge")
	if b.has(t, ".banner") {
		t.Errorf("still asked after acknowledging: %q", b.text(t, ".banner"))
	}

	// A consent, given and withdrawn.
	b.open(t, "/account/data")
	b.submit(t, "#agree-product_news")
	if !b.has(t, "#withdraw-product_news") {
		t.Fatal("the consent was not given")
	}
	b.submit(t, "#withdraw-product_news")
	if !b.has(t, "#agree-product_news") || !strings.Contains(b.text(t, "#consents"), "withdrew product_news") {
		t.Fatal("the withdrawal is not shown")
	}

	// The data, downloaded once.
	dir := t.TempDir()
	if _, err := chromedp.Call(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	// MTL-3.2.2: past the step-up window, "Prepare my data" asks for the
	// password, says what for, and then prepares the data.
	staleSessions(t, r)
	b.submit(t, "#prepare")
	if p := b.path(t); !strings.HasPrefix(p, "/account/reauth?action=") {
		t.Fatalf("a stale export landed on %s, want the password confirmation", p)
	}
	if got := b.text(t, "main"); !strings.Contains(got, "to prepare a copy of your data") {
		t.Errorf("the confirmation page does not say what it protects: %q", got)
	}
	b.submit(t, `form[action="/account/reauth"] button[type=submit]`, field{"#password", "velvet-harbour-quietly-92-lanterns"})
	if !b.has(t, "#download") {
		t.Fatalf("after the password the data is not ready: %q", b.text(t, "main"))
	}
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#download"))); err != nil {
		t.Fatal(err)
	}
	var archive string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && archive == ""; time.Sleep(100 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "portico-data-*.zip"))
		if len(files) == 1 {
			archive = files[0]
		}
	}
	if archive == "" {
		t.Fatal("no download")
	}
	if b.has(t, "#download") || !strings.Contains(b.text(t, "main"), "could be downloaded once") {
		t.Error("the single-use download button stays after its use")
	}
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	var account string
	for _, f := range zr.File {
		if f.Name == "account.json" {
			rc, _ := f.Open()
			bs, _ := io.ReadAll(rc)
			rc.Close()
			account = string(bs)
		}
	}
	zr.Close()
	if !strings.Contains(account, email) {
		t.Errorf("account.json: %s", account)
	}

	// Deletion: scheduled, then carried out when the grace period ends.
	b.open(t, "/account/data")
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#confirm"))); err != nil {
		t.Fatal(err)
	}
	b.submit(t, "#erase")
	if !strings.Contains(b.text(t, "main"), "will be deleted on") {
		t.Fatalf("after asking: %q", b.text(t, "main"))
	}
	b.open(t, "/account")
	if got := b.text(t, ".banner"); !strings.Contains(got, "will be deleted on") || !strings.Contains(got, "Cancel the deletion") {
		t.Errorf("the account page does not say the deletion is scheduled: %q", got)
	}
	time.Sleep(2100 * time.Millisecond)
	sv, err := app.NewServices(r.Storage(), cfg, base, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sv.Close()
	if n, err := sv.Privacy.RunDueErasures(context.Background()); err != nil || n != 1 {
		t.Fatalf("erasure: %d %v", n, err)
	}
	b.open(t, "/account")
	if p := b.path(t); !strings.HasPrefix(p, "/login") {
		t.Errorf("after the erasure the session still opens %s", p)
	}
	if _, err := ids.Login(context.Background(), identity.Credentials{Email: email, Password: "velvet-harbour-quietly-92-lanterns", IP: "127.0.0.1", UserAgent: ua}); err == nil {
		t.Error("the erased customer can sign in")
	}
}
