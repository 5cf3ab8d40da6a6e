package web

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
)

// TestAuditorViews: auditors search the trail and export it (a fresh
// sign-in, and the export is itself audited); support does not see the
// trail; nobody reaches it anonymously (CP-5.3, MTL-7.2, CP-4.2).
func TestAuditorViews(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		aud := signInAs(t, s, "aud@example.com", access.RoleAuditor)
		sup := signInAs(t, s, "sup@example.com", access.RoleSupport)
		page := do(s, "GET", "/admin/audit?action=session.", nil, map[string]string{"Cookie": cookieOf(aud)})
		if page.Code != 200 || !strings.Contains(page.Body.String(), "session.create") {
			t.Fatalf("audit search: %d", page.Code)
		}
		if strings.Contains(page.Body.String(), "account.create</td>") {
			t.Error("the action filter did not filter")
		}
		if w := do(s, "GET", "/admin/audit?from=yesterday", nil, map[string]string{"Cookie": cookieOf(aud)}); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("bad date: %d", w.Code)
		}
		exp := do(s, "GET", "/admin/audit/export?action=session.", nil, map[string]string{"Cookie": cookieOf(aud)})
		if exp.Code != 200 || !strings.HasPrefix(exp.Header().Get("Content-Disposition"), "attachment") || strings.Count(exp.Body.String(), "\n") < 2 {
			t.Fatalf("export: %d %q", exp.Code, exp.Body.String())
		}
		again := do(s, "GET", "/admin/audit?action=audit.export", nil, map[string]string{"Cookie": cookieOf(aud)}).Body.String()
		if !strings.Contains(again, "audit.export") {
			t.Error("the export is not in the trail")
		}
		for _, path := range []string{"/admin/audit", "/admin/audit/export", "/admin/policy", "/admin/outbox", "/admin/keys"} {
			if w := do(s, "GET", path, nil, map[string]string{"Cookie": cookieOf(sup)}); w.Code != http.StatusNotFound {
				t.Errorf("support GET %s: %d", path, w.Code)
			}
		}
		makeStale(t, s, aud)
		if w := do(s, "GET", "/admin/audit/export", nil, map[string]string{"Cookie": cookieOf(aud)}); w.Code != http.StatusSeeOther {
			t.Errorf("stale export: %d", w.Code)
		}
	})
}

// TestPolicyPage: admins edit the override file through the page; a
// refused value writes nothing and shows what was typed; every change is
// audited with old and new value; auditors read and cannot save
// (MTL-3.2.2).
func TestPolicyPage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.toml")
	s := newTestServer(t, func(d *Deps) { d.PolicyFile = file })
	admin := signInAs(t, s, "padmin@example.com", access.RoleAdmin)
	aud := signInAs(t, s, "paud@example.com", access.RoleAuditor)
	if w := do(s, "GET", "/admin/policy", nil, map[string]string{"Cookie": cookieOf(aud)}); w.Code != 200 || strings.Contains(w.Body.String(), `name="setting.`) {
		t.Errorf("auditor view: %d (an edit form is offered: %v)", w.Code, strings.Contains(w.Body.String(), `name="setting.`))
	}
	if r := post(s, "/admin/policy", url.Values{"setting.session.idle_timeout": {"20m"}}, cookieOf(aud)); r.StatusCode != http.StatusNotFound {
		t.Errorf("auditor save: %d", r.StatusCode)
	}
	r := post(s, "/admin/policy", url.Values{"setting.session.idle_timeout": {"48h"}}, cookieOf(admin))
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("invalid value: %d", r.StatusCode)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a refused edit wrote the file")
	}
	r = post(s, "/admin/policy", url.Values{"setting.session.idle_timeout": {"20m"}, "setting.lockout.threshold": {"10"}}, cookieOf(admin))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", r.StatusCode)
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), `idle_timeout = "20m"`) {
		t.Errorf("file:\n%s", b)
	}
	trail := do(s, "GET", "/admin/audit?action=policy.change", nil, map[string]string{"Cookie": cookieOf(admin)}).Body.String()
	if !strings.Contains(trail, "session.idle_timeout") || !strings.Contains(trail, "30m") || !strings.Contains(trail, "20m") {
		t.Error("the change is not audited with old and new value")
	}
	if page := do(s, "GET", "/admin/policy", nil, map[string]string{"Cookie": cookieOf(admin)}).Body.String(); !strings.Contains(page, "not in force yet") {
		t.Error("the page does not say the change waits for a restart")
	}
}

// TestOutboxAndKeysPages: the outbox lists undelivered mail without
// addresses; an administrator rotates the master key from the page, with
// a fresh sign-in, and the rotation is audited (CP-5.1, MTL-3.2.2).
func TestOutboxAndKeysPages(t *testing.T) {
	s := newTestServer(t)
	admin := signInAs(t, s, "kadmin@example.com", access.RoleAdmin)
	if w := do(s, "GET", "/admin/outbox", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 || strings.Contains(w.Body.String(), "kadmin@") {
		t.Errorf("outbox: %d", w.Code)
	}
	if w := do(s, "GET", "/admin/keys", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 {
		t.Fatalf("keys: %d", w.Code)
	}
	r := post(s, "/admin/keys/rotate", url.Values{}, cookieOf(admin))
	if r.StatusCode != 200 {
		t.Fatalf("rotate: %d", r.StatusCode)
	}
	if !strings.Contains(do(s, "GET", "/admin/audit?action=keys.rotate", nil, map[string]string{"Cookie": cookieOf(admin)}).Body.String(), "keys.rotate") {
		t.Error("the rotation is not audited")
	}
	aud := signInAs(t, s, "kaud@example.com", access.RoleAuditor)
	if r := post(s, "/admin/keys/rotate", url.Values{}, cookieOf(aud)); r.StatusCode != http.StatusNotFound {
		t.Errorf("auditor rotate: %d", r.StatusCode)
	}
}
