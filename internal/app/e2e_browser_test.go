package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/browsertest"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// The helpers of the end-to-end identity test (identity_e2e_test.go): a
// browser tab that checks every page it lands on for CSP violations and
// console errors, fills and submits forms the way a person does, and runs
// passkey ceremonies with a virtual authenticator.

// actionTimeout bounds one browser action, so that a page that never
// navigates fails its step instead of the whole run.
const actionTimeout = 20 * time.Second

// chromium starts headless Chromium with no overall deadline (each action
// has its own), or skips the test saying why.
func chromium(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, 0)
}

// tab is one browser tab on Portico. Tabs made with newTab in a new
// browser context share nothing (cookies included) with the others: two
// devices of the same person.
type tab struct {
	name  string
	ctx   context.Context
	base  string
	con   *console
	authn cdpwebauthn.AuthenticatorID

	mu    sync.Mutex
	allow []string // console messages expected in the current step

	// crawled are the kinds of page a crawl of this tab has checked: a
	// later crawl goes only to new ones.
	crawled map[string]bool
}

// newTab opens a tab. With isolated, it lives in a browser context of its
// own; userAgent, when set, replaces the browser's (another device).
func newTab(t *testing.T, root context.Context, name, base string, isolated bool, userAgent string) *tab {
	t.Helper()
	ctx := root
	if isolated {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		// The first action binds the tab's life to its context: no
		// deadline here.
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("%s: open tab: %v", name, err)
		}
	}
	b := &tab{name: name, ctx: ctx, base: base}
	b.con = listen(ctx)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if userAgent != "" {
		if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// addAuthenticator gives the tab a platform passkey provider: CTAP2,
// internal transport, resident keys, user verification that succeeds and
// presence simulated.
func (b *tab) addAuthenticator(t *testing.T) {
	t.Helper()
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
			Transport:                   cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	b.authn = res.AuthenticatorID
}

// credentials lists the passkeys the tab's authenticator holds.
func (b *tab) credentials(t *testing.T) []*cdpwebauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(b.ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: b.authn})
	if err != nil {
		t.Fatal(err)
	}
	return res.Credentials
}

// expectConsole lets console messages containing s pass the checks until
// the returned func is called.
func (b *tab) expectConsole(s string) func() {
	b.mu.Lock()
	b.allow = append(b.allow, s)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if i := slices.Index(b.allow, s); i >= 0 {
			b.allow = slices.Delete(b.allow, i, i+1)
		}
	}
}

func (b *tab) action(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

// js evaluates expr in the tab's page.
func js[T any](t *testing.T, b *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// jsAwait evaluates expr, waiting for the promise it returns.
func jsAwait[T any](t *testing.T, b *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// open navigates to path (or a full URL) and checks the page it lands on.
// It returns the final response's status.
func (b *tab) open(t *testing.T, path string) int64 {
	t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = b.base + path
	}
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("%s: open %s: %v", b.name, path, err)
	}
	b.check(t)
	if resp == nil {
		return 0
	}
	return resp.Status
}

// field is one form field to fill: a CSS selector and its value.
type field struct{ sel, value string }

// submit fills the fields and clicks button, waits for the page the form
// leads to, checks it and returns its status.
func (b *tab) submit(t *testing.T, button string, fields ...field) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	for _, f := range fields {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(f.sel), f.value)); err != nil {
			t.Fatalf("%s: fill %s: %v", b.name, f.sel, err)
		}
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		t.Fatalf("%s: click %s: %v", b.name, button, err)
	}
	b.check(t)
	if resp == nil {
		return 0
	}
	return resp.Status
}

// check fails the test for any CSP violation or console error of the page
// the tab shows, and checks that the page script ran under the nonce CSP.
func (b *tab) check(t *testing.T) {
	t.Helper()
	where := b.path(t)
	if v := js[[]string](t, b, `window.__csp || ["the CSP watch is not installed"]`); len(v) > 0 {
		t.Errorf("%s: %s: CSP violations: %v", b.name, where, v)
	}
	if ready := js[string](t, b, `document.documentElement.getAttribute("data-js") || ""`); ready != "ready" {
		t.Errorf("%s: %s: the page script did not run (data-js=%q)", b.name, where, ready)
	}
	b.consoleClean(t, where)
}

// consoleClean fails the test for console errors and warnings so far,
// except those the step expects.
func (b *tab) consoleClean(t *testing.T, where string) {
	t.Helper()
	b.mu.Lock()
	allow := slices.Clone(b.allow)
	b.mu.Unlock()
	for _, e := range b.con.take() {
		if slices.ContainsFunc(allow, func(s string) bool { return strings.Contains(e, s) }) {
			continue
		}
		t.Errorf("%s: %s: browser reported: %s", b.name, where, e)
	}
}

// path is the path and query of the page the tab shows.
func (b *tab) path(t *testing.T) string {
	t.Helper()
	return js[string](t, b, `location.pathname + location.search`)
}

// wantPath fails the test unless the tab shows path.
func (b *tab) wantPath(t *testing.T, path string) {
	t.Helper()
	if got := b.path(t); got != path {
		t.Fatalf("%s: at %s (h1 %q, alert %q), want %s", b.name, got, b.text(t, "h1"), b.text(t, "[role=alert]"), path)
	}
}

// text is the text of the first element matching sel, or "".
func (b *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return js[string](t, b, fmt.Sprintf(`(function(){var e=document.querySelector(%q); return e ? e.textContent.trim().replace(/\s+/g, " ") : ""})()`, sel))
}

// texts is the text of every element matching sel.
func (b *tab) texts(t *testing.T, sel string) []string {
	t.Helper()
	return js[[]string](t, b, fmt.Sprintf(`Array.from(document.querySelectorAll(%q), function(e){return e.textContent.trim().replace(/\s+/g, " ")})`, sel))
}

// has reports whether an element matches sel.
func (b *tab) has(t *testing.T, sel string) bool {
	t.Helper()
	return js[bool](t, b, fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
}

// cookie returns the browser's cookie of that name for Portico, or nil.
func (b *tab) cookie(t *testing.T, name string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionCookie reports whether the browser holds Portico's session cookie.
func (b *tab) sessionCookie(t *testing.T) bool {
	t.Helper()
	return b.cookie(t, session.CookieName) != nil
}

// passkeyAssetURL is where Portico serves passkey.js: /static/ and the
// name with the first 12 hex digits of its SHA-256 (internal/web/static.go).
func passkeyAssetURL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../web/static/passkey.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "/static/passkey." + hex.EncodeToString(sum[:])[:12] + ".js"
}

// passkeyScriptRan reports whether passkey.js started on the page.
func (b *tab) passkeyScriptRan(t *testing.T) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if js[string](t, b, `document.documentElement.getAttribute("data-passkey-js") || ""`) == "ready" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loadPasskeyScript adds passkey.js to the page the way the page should
// have (a script element with the page's CSP nonce), for when the page
// does not: the workaround that lets the rest of the passkey flow be
// tested while that bug stands.
func (b *tab) loadPasskeyScript(t *testing.T) {
	t.Helper()
	js[bool](t, b, fmt.Sprintf(`(function(){var n=document.querySelector("script[nonce]"); var s=document.createElement("script"); s.nonce=n.nonce; s.src=%q; document.head.appendChild(s); return true})()`, passkeyAssetURL(t)))
	if !b.passkeyScriptRan(t) {
		t.Fatalf("%s: passkey.js did not start even when added with the page's nonce", b.name)
	}
}

// ceremony clicks a passkey button and waits for its outcome: the page
// passkey.js goes to ("nav:" and its path) or the message it shows
// ("alert:" and the text of the alert in scope).
func (b *tab) ceremony(t *testing.T, button, scope string) string {
	t.Helper()
	before := b.path(t)
	b.action(t, "click "+button, chromedp.Click(chromedp.CSS(button)))
	probe := fmt.Sprintf(`(function () {
  if (location.pathname + location.search !== %q) {
    return document.readyState === "complete" ? "nav:" + location.pathname + location.search : "";
  }
  var a = document.querySelector(%q);
  if (a && !a.hidden && a.textContent) { return "alert:" + a.textContent; }
  return "";
})()`, before, scope+" [role=alert]")
	deadline := time.Now().Add(actionTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](probe))
		cancel()
		if err == nil && v != "" {
			if strings.HasPrefix(v, "nav:") {
				b.check(t)
			} else {
				b.consoleClean(t, before)
			}
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no outcome after clicking %s", b.name, button)
	return ""
}

// identityFor opens the identity service of a running Portico, for tests
// that make accounts and sign them in directly; it is closed with the test.
func identityFor(t *testing.T, r *running, cfg config.Config) *identity.Service {
	t.Helper()
	ids, closeIDs, err := app.NewIdentity(r.Storage(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeIDs() })
	return ids
}

// staleSessions moves every session's last password past the step-up
// window, so that the next sensitive action asks for it again.
func staleSessions(t *testing.T, r *running) {
	t.Helper()
	at := time.Now().Add(-r.Storage().Profile.Session.StepUpWindow.Duration - time.Minute)
	if err := r.Storage().DB.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE sessions SET reauth_at = $1`, at)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
