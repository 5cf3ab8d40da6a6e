package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/portico/portico/internal/browsertest"
)

// browser starts headless Chromium for one test, or skips it.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, 90*time.Second)
}

// console collects what the browser reports: console errors and warnings,
// uncaught exceptions and browser log entries (CSP violations appear there).
type console struct {
	mu      sync.Mutex
	entries []string
}

func (c *console) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries
	c.entries = nil
	return e
}

func listen(ctx context.Context) *console {
	c := &console{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleType("error") || m.Type == chromedp.ConsoleType("warning") {
				c.mu.Lock()
				c.entries = append(c.entries, fmt.Sprintf("%s/%s: %s", m.Source, m.Type, m.Text))
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// cspWatch records securitypolicyviolation events in the page itself. It is
// installed by DevTools before any page script and is not subject to the
// page's CSP.
const cspWatch = `window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});`

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// TestBrowser drives Portico in headless Chromium: every page renders with
// its script running under the nonce CSP and zero CSP violations in the
// console; an injected inline handler is blocked (CP-6.1, XSS); a
// cross-site form POST is refused with 403 (CP-6.1, CSRF).
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	r := startApp(t, testConfig(t, t.TempDir()))
	con := listen(ctx)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}

	t.Run("pages render under the CSP with no violations", func(t *testing.T) {
		for _, tc := range []struct{ path, heading string }{
			{"/", "Your account, kept safe and simple"},
			{"/login", "Sign in"},
			{"/signup", "Create your account"},
			{"/security", "Keeping your account safe"},
			{"/privacy", "Privacy notice"},
			{"/no-such-page", "Page not found"},
		} {
			if err := chromedp.Do(ctx, chromedp.Navigate(r.URL()+tc.path), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
			if err != nil {
				t.Fatal(err)
			}
			if heading != tc.heading {
				t.Errorf("%s: h1 = %q, want %q", tc.path, heading, tc.heading)
			}
			title, _ := chromedp.Run(ctx, chromedp.Title())
			if !strings.HasSuffix(title, "· Portico") {
				t.Errorf("%s: title = %q", tc.path, title)
			}
			ready, err := chromedp.Run(ctx, chromedp.Poll[string](`document.documentElement.getAttribute("data-js")`, chromedp.WithPollingTimeout(5*time.Second)))
			if err != nil || ready != "ready" {
				t.Errorf("%s: the page script did not run under the nonce CSP (%v)", tc.path, err)
			}
			if eval[bool](t, ctx, `(function(){var b=document.querySelector("button[data-reveal-for]"); return b ? b.hidden : false})()`) {
				t.Errorf("%s: the password reveal button stayed hidden (script did not run)", tc.path)
			}
			if v := eval[[]string](t, ctx, `window.__csp`); len(v) > 0 {
				t.Errorf("%s: CSP violations: %v", tc.path, v)
			}
		}
		for _, e := range con.take() {
			// The 404 page's own status is logged as a failed load.
			if strings.Contains(e, "404") {
				continue
			}
			t.Errorf("browser reported: %s", e)
		}
	})

	t.Run("an injected inline handler is blocked by the CSP", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(r.URL()+"/login"), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
			t.Fatal(err)
		}
		eval[bool](t, ctx, `document.body.insertAdjacentHTML("beforeend", '<img src="data:," onload="window.__pwned = true" onerror="window.__pwned = true">'); true`)
		time.Sleep(300 * time.Millisecond)
		if eval[bool](t, ctx, `window.__pwned === true`) {
			t.Fatal("the injected inline handler ran")
		}
		v := eval[[]string](t, ctx, `window.__csp`)
		if !strings.Contains(strings.Join(v, " "), "script-src") {
			t.Fatalf("no script-src violation recorded: %v", v)
		}
		// The console listener sees it too: proof that the check of the
		// first subtest would have caught a violation there.
		deadline := time.Now().Add(3 * time.Second)
		seen := ""
		for seen == "" && time.Now().Before(deadline) {
			for _, e := range con.take() {
				if strings.Contains(e, "Content Security Policy") {
					seen = e
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if seen == "" {
			t.Fatal("the console did not report the CSP violation")
		}
	})

	t.Run("a cross-site form POST is refused with 403", func(t *testing.T) {
		// An attacker's page on another origin (localhost vs 127.0.0.1)
		// that submits a form to Portico as soon as it loads.
		evil := http.NewServeMux()
		evil.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `<!doctype html><title>evil</title>
<form id="f" method="post" action="%s/login"><input name="email" value="victim@example.com"><input name="password" value="x"></form>
<script>document.getElementById("f").submit()</script>`, r.URL())
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: evil, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		_, port, _ := net.SplitHostPort(ln.Addr().String())

		evCtx, stop := context.WithCancel(ctx)
		defer stop()
		responses := chromedp.Events(evCtx, network.ResponseReceived)
		if err := chromedp.Do(ctx,
			chromedp.Navigate("http://localhost:"+port+"/"),
			chromedp.WaitVisible(chromedp.CSS(".status-code")),
		); err != nil {
			t.Fatal(err)
		}
		status := int64(0)
		for ev, err := range responses {
			if err != nil {
				break
			}
			if ev.Response != nil && ev.Response.URL == r.URL()+"/login" {
				status = ev.Response.Status
				break
			}
		}
		if status != 403 {
			t.Fatalf("cross-site POST answered %d, want 403", status)
		}
		body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, "another site") {
			t.Fatalf("403 page says %q", body)
		}
		con.take()
	})
}
