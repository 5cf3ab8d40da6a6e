// Package browsertest starts the real Chromium that Portico's browser
// tests drive through chromedp: headless, with an empty profile and the
// flags this machine needs, or it skips the test saying why. It is used
// by tests only.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Env names the environment variable with the Chromium binary to use
// (scripts/test.sh sets it); otherwise chromium is looked up on PATH.
const Env = "PORTICO_TEST_CHROMIUM"

// Path returns the Chromium binary, or "" if there is none.
func Path() string {
	if p := os.Getenv(Env); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start launches headless Chromium and returns a browser context that
// lives until the test ends, or until timeout when it is positive. The
// test servers' certificates are self-signed, so certificate errors are
// ignored; background networking is off because this machine's network is
// closed. It skips the test when no Chromium is installed.
func Start(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	path := Path()
	if path == "" {
		t.Skip("browser tests skipped: no chromium found (scripts/test.sh installs it; or set " + Env + ")")
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("ignore-certificate-errors", true),
	)
	ctx, cancelB := chromedp.NewContext(actx)
	cancelC := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancelC = context.WithTimeout(ctx, timeout)
	}
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// AxeEnv names the environment variable with the path of axe-core's
// axe.min.js (scripts/test.sh installs axe-core with npm and sets it).
const AxeEnv = "PORTICO_TEST_AXE"

// Axe returns the source of axe-core, to inject into pages under test,
// or skips the test when AxeEnv is unset.
func Axe(t testing.TB) string {
	t.Helper()
	path := os.Getenv(AxeEnv)
	if path == "" {
		t.Skip("accessibility tests skipped: no axe-core (scripts/test.sh installs it; or set " + AxeEnv + " to axe.min.js)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	return string(b)
}
