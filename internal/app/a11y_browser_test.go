package app_test

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/browsertest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
)

// TestAccessibilityInBrowser runs axe-core on every page a visitor, a
// customer, a support agent, an administrator and an auditor can reach
// by GET, in light and dark mode, 1280 and 390 pixels wide, and fails on
// any violation of serious or critical impact, and on what axe leaves to
// people (pageChecks): a skipped heading level, a page that scrolls
// sideways or hides a control off its side, buttons that cannot be told
// apart. Each role's pages are found
// by following the links of the pages it starts from. The forms' error
// states (sign-up, sign-in) are checked too. On SQLite: the markup does
// not depend on the database.
func TestAccessibilityInBrowser(t *testing.T) {
	axe := browsertest.Axe(t)
	root := chromium(t)
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL())
	r := startApp(t, cfg)
	base := r.URL()
	ids := identityFor(t, r, cfg)

	var found []axeViolation

	// A visitor: the public pages, and the forms' error states.
	visitor := newTab(t, root, "visitor", base, true, "")
	visitor.open(t, "/")
	ua := js[string](t, visitor, `navigator.userAgent`)
	// The error pages and the forms' errors answer 4xx, which the
	// browser logs.
	defer visitor.expectConsole("the server responded with a status of 4")()
	for _, p := range []string{"/", "/login", "/signup", "/reset", "/security", "/privacy", "/no-such-page"} {
		visitor.open(t, p)
		found = append(found, visitor.axe(t, axe, p)...)
	}
	visitor.open(t, "/signup")
	visitor.submit(t, `form[action="/signup"] button[type=submit]`)
	found = append(found, visitor.axe(t, axe, "/signup (errors)")...)
	visitor.open(t, "/login")
	visitor.submit(t, `form[action="/login"] button[type=submit]`,
		field{"#email", "nobody@example.test"}, field{"#password", "not the password at all"})
	found = append(found, visitor.axe(t, axe, "/login (error)")...)

	// The customer has a name, a ticket, and a detail an agent revealed.
	const custEmail = "a11y.customer@example.test"
	custToken, custID := signedIn(t, r.Storage(), ids, custEmail, access.RoleCustomer, ua)
	if err := ids.SetContact(context.Background(), custID, "Jane Doe", "+44 20 7946 0958"); err != nil {
		t.Fatal(err)
	}
	// A failed attempt too: the sign-in history has rows of both kinds,
	// whose "This wasn't me" buttons must be told apart.
	if _, err := ids.Login(context.Background(), identity.Credentials{Email: custEmail, Password: "not the password at all", IP: "127.0.0.1", UserAgent: ua}); err == nil {
		t.Fatal("a wrong password signed in")
	}
	customer := newTab(t, root, "customer", base, true, "")
	customer.setSession(t, custToken)
	customer.open(t, "/tickets/new")
	customer.submit(t, `form[action="/tickets"] button[type=submit]`,
		field{"#subject", "The invoice for March is missing"},
		field{"#body", "I cannot find the March invoice in my account."})

	agentToken, _ := signedIn(t, r.Storage(), ids, "a11y.agent@example.test", access.RoleSupport, ua)
	agent := newTab(t, root, "support agent", base, true, "")
	agent.setSession(t, agentToken)
	agent.open(t, "/desk")
	agent.submit(t, `form[action="/desk/customers"] button`, field{"#email", custEmail})
	agent.action(t, "open the reveal", chromedp.Click(chromedp.CSS(`.masked[data-field=email] ~ details summary`)))
	agent.submit(t, `form:has(#reason-email) button`, field{"#reason-email", "Sending the invoice the customer asked for"})

	// The agent puts the ticket on hold: a pending status shows.
	agent.open(t, "/desk")
	agent.open(t, js[string](t, agent, `document.querySelector('a[href^="/desk/tickets/"]').getAttribute("href")`))
	agent.submit(t, `form[action$="/status"] button[type=submit]`, field{"#status", "pending"})
	if got := agent.text(t, ".status"); got != "pending" {
		t.Fatalf("ticket status %q after setting it pending", got)
	}

	adminToken, _ := signedIn(t, r.Storage(), ids, "a11y.admin@example.test", access.RoleAdmin, ua)
	admin := newTab(t, root, "administrator", base, true, "")
	admin.setSession(t, adminToken)
	auditorToken, _ := signedIn(t, r.Storage(), ids, "a11y.auditor@example.test", access.RoleAuditor, ua)
	auditor := newTab(t, root, "auditor", base, true, "")
	auditor.setSession(t, auditorToken)

	securityToken, _ := signedIn(t, r.Storage(), ids, "a11y.security@example.test", access.RoleSecurity, ua)
	security := newTab(t, root, "security team", base, true, "")
	security.setSession(t, securityToken)
	// An incident with a notice drafted, so the incident pages have
	// something to show (issue 12).
	security.open(t, "/security/incidents/new")
	security.submit(t, `form[action="/security/incidents"] button[type=submit]`,
		field{"#title", "Passwords tried from one network"}, field{"#category", "account takeover"})
	security.open(t, js[string](t, security, `location.pathname`)+"/notices/new")
	security.submit(t, `form[action$="/notices"] button[type=submit]`, field{"#nature", "Someone tried stolen passwords."})
	found = append(found, security.crawl(t, axe, []string{"/security/dashboard", "/security/alerts", "/security/incidents",
		"/security/register", "/security/plan", "/security/exercises"})...)
	// The policy documents (issue 13): the generated ones are there
	// from the start.
	for _, p := range []string{"/policies", "/policies/new", "/policies/customer-portal-policy", "/policies/customer-portal-policy/diff"} {
		if status := admin.open(t, p); status != 200 {
			t.Errorf("administrator: %s answered %d", p, status)
		}
		found = append(found, admin.axe(t, axe, "administrator "+p)...)
	}

	// Governance (issue 13): the overview and the registers it links,
	// their forms, training for staff and its administration.
	found = append(found, security.crawl(t, axe, []string{"/governance", "/vendors/new", "/findings/new", "/assessments/new"})...)
	found = append(found, admin.crawl(t, axe, []string{"/admin/training", "/admin/training/new", "/training"})...)
	visitor.open(t, "/security/report")
	found = append(found, visitor.axe(t, axe, "/security/report")...)

	// Pages no link leads to, but each signed-in person can open.
	own := []string{"/account", "/account/password", "/account/recovery-codes/new", "/account/reauth", "/account/privacy-notice", "/logout"}
	for _, b := range []*tab{customer, agent, admin, auditor} {
		found = append(found, b.crawl(t, axe, own)...)
	}

	// Pages reached only from a mail, a sign-in step or a form's answer.
	waitLink := func(to, subject, prefix string) string {
		t.Helper()
		m := mail.WaitFor(t, func(m mailtest.Message) bool {
			return slices.Contains(m.To, to) && strings.Contains(m.Subject, subject)
		}, 20*time.Second)
		link := m.URL(base + prefix)
		if link == "" {
			t.Fatalf("no %s link in %q", prefix, m.Text)
		}
		return link
	}
	const newcomer = "a11y.newcomer@example.test"
	visitor.open(t, "/signup")
	visitor.action(t, "tick the privacy notice", chromedp.Click(chromedp.CSS("#privacy")))
	visitor.submit(t, `form[action="/signup"] button[type=submit]`,
		field{"#name", "New Comer"}, field{"#email", newcomer}, field{"#password", "quietly-velvet-harbour-92-lanterns"})
	found = append(found, visitor.axe(t, axe, "/signup (sent)")...)
	visitor.open(t, waitLink(newcomer, "Confirm your email", "/verify/"))
	found = append(found, visitor.axe(t, axe, "/verify/{token}")...)
	visitor.open(t, "/reset")
	visitor.submit(t, `form[action="/reset"] button[type=submit]`, field{"#email", custEmail})
	found = append(found, visitor.axe(t, axe, "/reset (sent)")...)
	visitor.open(t, waitLink(custEmail, "Reset your", "/reset/"))
	found = append(found, visitor.axe(t, axe, "/reset/{token}")...)
	// The second-factor step of a sign-in.
	mfa := newTab(t, root, "signing in", base, true, "")
	mfa.open(t, "/login")
	mfa.submit(t, `form[action="/login"] button[type=submit]`, field{"#email", "a11y.agent@example.test"}, field{"#password", "velvet-harbour-quietly-92-lanterns"})
	if p := mfa.path(t); !strings.HasPrefix(p, "/login/mfa") {
		t.Fatalf("the password step went to %s, not the second factor", p)
	}
	found = append(found, mfa.axe(t, axe, "/login/mfa")...)
	// A customer's form answers: a change of address and its link, new
	// recovery codes, a report. A customer signed in now: the crawls
	// above outlast the five-minute step-up window that a change of
	// address asks for, and under the race detector the first
	// customer's sign-in is older than that by now.
	formsToken, _ := signedIn(t, r.Storage(), ids, "a11y.forms@example.test", access.RoleCustomer, ua)
	customer.setSession(t, formsToken)
	customer.open(t, "/account/email")
	customer.submit(t, `form[action="/account/email"] button[type=submit]`, field{"#email", "a11y.moved@example.test"})
	found = append(found, customer.axe(t, axe, "/account/email (sent)")...)
	customer.open(t, waitLink("a11y.moved@example.test", "Confirm your new email", "/email/"))
	found = append(found, customer.axe(t, axe, "/email/{token}")...)
	customer.open(t, "/account/security")
	customer.submit(t, `form[action="/account/recovery-codes"] button[type=submit]`)
	found = append(found, customer.axe(t, axe, "recovery codes")...)
	customer.open(t, "/account/security")
	customer.submit(t, `form[action="/account/report"] button[type=submit]`)
	found = append(found, customer.axe(t, axe, "report sent")...)

	if len(found) == 0 {
		return
	}
	// One line per rule, page and set of elements, with the modes and
	// widths it fails in.
	type key struct{ rule, impact, page, targets, help string }
	where := map[key][]string{}
	var keys []key
	for _, v := range found {
		k := key{v.Rule, v.Impact, v.Page, strings.Join(v.Targets, ", "), v.Help}
		if _, ok := where[k]; !ok {
			keys = append(keys, k)
		}
		where[k] = append(where[k], fmt.Sprintf("%s %dpx", v.Mode, v.Width))
	}
	for _, k := range keys {
		t.Errorf("axe %s (%s) on %s [%s]: %s: %s", k.rule, k.impact, k.page, strings.Join(where[k], ", "), k.help, k.targets)
	}
}

// axeViolation is one axe-core rule that fails on a page, in one colour
// scheme and width, with the elements that fail it.
type axeViolation struct {
	Rule    string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	Page    string   `json:"-"`
	Mode    string   `json:"-"`
	Width   int64    `json:"-"`
}

// axeRun runs axe-core on the document and returns its serious and
// critical violations, each with the CSS selectors of its elements.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  return r.violations.filter(function (v) {
    return v.impact === "serious" || v.impact === "critical";
  }).map(function (v) {
    return {id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(function (n) { return n.target.join(" "); })};
  });
})`

// pageChecks finds what axe-core leaves to people: a heading level
// skipped, a page that scrolls sideways or a control off the side of the
// screen (outside a table's own scroll region), and buttons that share one
// accessible name, which a screen reader's list of controls cannot tell
// apart. Each is reported as the rule "portico-...".
const pageChecks = `(function () {
  var out = [], last = 0, w = window.innerWidth;
  function add(id, help, target) { out.push({id: id, impact: "serious", help: help, targets: [target]}); }
  document.querySelectorAll("h1, h2, h3, h4, h5, h6").forEach(function (h) {
    var l = +h.tagName[1];
    if (last && l > last + 1) add("portico-heading-skip", "h" + last + " is followed by " + h.tagName.toLowerCase(), h.textContent.trim());
    last = l;
  });
  if (document.documentElement.scrollWidth > w + 1) add("portico-sideways", "the page scrolls sideways", document.documentElement.scrollWidth + "px wide");
  document.querySelectorAll("main a, main button, main input, main select, main textarea").forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (e.closest(".table-wrap") || e.type === "hidden" || !r.width) return;
    if (r.right > w + 1) add("portico-off-screen", "a control is off the side of the screen", e.textContent.trim() || e.name || e.id);
  });
  var seen = {};
  document.querySelectorAll("main button").forEach(function (b) {
    var n = (b.getAttribute("aria-label") || b.textContent).trim().replace(/\s+/g, " ");
    if (b.hidden || b.closest("[hidden]")) return;
    if (seen[n] === 1) add("portico-same-name", "buttons share one accessible name", n);
    seen[n] = (seen[n] || 0) + 1;
  });
  return out;
})()`

// axe checks the page the tab shows with axe-core in light and dark mode,
// at 1280 and 390 pixels wide, and returns what fails. It leaves the tab
// light and 1280 pixels wide.
func (b *tab) axe(t *testing.T, source, page string) []axeViolation {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 4*actionTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](source)); err != nil {
		t.Fatalf("%s: %s: inject axe-core: %v", b.name, page, err)
	}
	var out []axeViolation
	for _, mode := range []string{"light", "dark"} {
		for _, width := range []int64{1280, 390} {
			b.emulate(t, ctx, mode, width)
			vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("%s: %s: axe %s %dpx: %v", b.name, page, mode, width, err)
			}
			more, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](pageChecks))
			if err != nil {
				t.Fatalf("%s: %s: page checks %s %dpx: %v", b.name, page, mode, width, err)
			}
			for _, v := range append(vs, more...) {
				v.Page, v.Mode, v.Width = page, mode, width
				out = append(out, v)
			}
		}
	}
	b.emulate(t, ctx, "light", 1280)
	return out
}

// emulate sets the colour scheme the page sees and the width of the
// window: a phone's (mobile, so the viewport meta applies) below 600.
func (b *tab) emulate(t *testing.T, ctx context.Context, mode string, width int64) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: mode}},
	}); err != nil {
		t.Fatalf("%s: emulate %s: %v", b.name, mode, err)
	}
	height := int64(900)
	if width < 600 {
		height = 844
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1, Mobile: width < 600,
	}); err != nil {
		t.Fatalf("%s: emulate %dpx: %v", b.name, width, err)
	}
}

// crawl opens the seed pages and every page their links lead to on
// Portico, once per kind of page (paths that differ only in an ID, or
// queries that differ only in values, are the same page), and checks each
// with axe. Downloads, static files and the API are left out.
func (b *tab) crawl(t *testing.T, source string, seeds []string) []axeViolation {
	t.Helper()
	var out []axeViolation
	queue := slices.Clone(seeds)
	if b.crawled == nil {
		b.crawled = map[string]bool{}
	}
	seen := b.crawled
	visited := 0
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		k, ok := pageKind(p)
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		if visited++; visited > 90 {
			t.Fatalf("%s: more than 90 kinds of page: the crawl is lost (at %s)", b.name, p)
		}
		status := b.open(t, p)
		if status != 200 {
			t.Errorf("%s: %s answered %d", b.name, p, status)
			continue
		}
		out = append(out, b.axe(t, source, b.name+" "+p)...)
		links := js[[]string](t, b, `Array.from(document.querySelectorAll("a[href]:not([download])"), function (a) { return a.href; })`)
		sort.Strings(links)
		for _, l := range links {
			u, err := url.Parse(l)
			if err != nil || !strings.HasPrefix(l, b.base+"/") {
				continue
			}
			u.Fragment = ""
			queue = append(queue, u.RequestURI())
		}
	}
	return out
}

// pageKind is what makes two addresses the same kind of page: the path
// with its IDs (segments with a digit) replaced, and the query's names.
// It reports false for addresses the crawl leaves out.
func pageKind(uri string) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", false
	}
	p := path.Clean(u.Path)
	for _, skip := range []string{"/static/", "/api/", "/favicon.ico", "/healthz", "/readyz"} {
		// Downloads (attachments, the regulator's report as PDF or
		// JSON, exports) are not pages.
		if strings.HasPrefix(p, skip) || strings.Contains(p, "/attachments/") || strings.HasSuffix(p, ".pdf") || strings.HasSuffix(p, ".json") ||
			strings.HasSuffix(p, "/export") {
			return "", false
		}
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.ContainsFunc(s, unicode.IsDigit) {
			segs[i] = "{id}"
		}
	}
	names := make([]string, 0, len(u.Query()))
	for n := range u.Query() {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(segs, "/") + "?" + strings.Join(names, "&"), true
}
