package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/notify"
)

// TestAuditorViews: auditors search the trail and export it (a fresh
// sign-in, and the export is recorded with its count before it is sent);
// the search takes IDs, not personal data; support does not see the
// trail (CP-5.3, MTL-7.2, CP-4.2).
func TestAuditorViews(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		aud := signInAs(t, s, "aud@example.com", access.RoleAuditor)
		sup := signInAs(t, s, "sup@example.com", access.RoleSupport)
		get := func(path, token string) string {
			t.Helper()
			w := do(s, "GET", path, nil, map[string]string{"Cookie": cookieOf(token)})
			if w.Code != 200 {
				t.Fatalf("GET %s: %d", path, w.Code)
			}
			return w.Body.String()
		}
		page := get("/admin/audit?action=session.", aud)
		if !strings.Contains(page, "session.create") {
			t.Fatal("the search found no session.create")
		}
		if strings.Contains(page, "account.create</td>") {
			t.Error("the action filter did not filter")
		}
		if !strings.Contains(page, "Head</dt><dd>event ") || !strings.Contains(page, "Last verified</dt><dd>never") {
			t.Error("no chain status")
		}
		// Combined filters: this auditor's own session events only.
		me := "account:" + accountOf(t, s, aud)
		mine := get("/admin/audit?actor="+url.QueryEscape(me)+"&action=session.", aud)
		if strings.Count(mine, "<td>session.") == 0 || strings.Count(mine, "<td>session.") >= strings.Count(page, "<td>session.") {
			t.Errorf("actor and action together: %d of %d", strings.Count(mine, "<td>session."), strings.Count(page, "<td>session."))
		}
		for _, bad := range []string{"from=yesterday", "from=2026-11-02&to=2026-11-01", "target=aud%40example.com", "actor=Ann+Smith", "before=x"} {
			if w := do(s, "GET", "/admin/audit?"+bad, nil, map[string]string{"Cookie": cookieOf(aud)}); w.Code != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d", bad, w.Code)
			}
		}
		if w := do(s, "POST", "/admin/audit/export?target=aud%40example.com", nil, map[string]string{"Cookie": cookieOf(aud), "Sec-Fetch-Site": "same-origin"}); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("export by an address: %d", w.Code)
		}

		// CP-6.1: an export is recorded in the trail, so it is a POST; a
		// link from anywhere cannot make one in the auditor's name.
		if w := do(s, "GET", "/admin/audit/export", nil, map[string]string{"Cookie": cookieOf(aud)}); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET export: %d, want 405", w.Code)
		}
		exp := do(s, "POST", "/admin/audit/export", nil, map[string]string{"Cookie": cookieOf(aud), "Sec-Fetch-Site": "same-origin"})
		if exp.Code != 200 || !strings.HasPrefix(exp.Header().Get("Content-Disposition"), "attachment") || exp.Header().Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("export: %d %v", exp.Code, exp.Header())
		}
		lines := strings.Split(strings.TrimSuffix(exp.Body.String(), "\n"), "\n")
		var last audit.ExportLine
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Action == "audit.export" {
			t.Fatalf("the last line %q (%v): the export holds its own record", lines[len(lines)-1], err)
		}
		// The record came before the events: it counts exactly what was
		// sent, up to the event before it.
		recs, err := s.audit.Search(context.Background(), audit.Filter{Action: "audit.export", Limit: 1})
		if err != nil || len(recs) != 1 {
			t.Fatalf("the export is not in the trail: %v", err)
		}
		var d struct {
			Events int   `json:"events"`
			UpTo   int64 `json:"up_to_seq"`
		}
		if err := json.Unmarshal(recs[0].Details, &d); err != nil || d.Events != len(lines) || d.UpTo != last.Seq || recs[0].Seq != last.Seq+1 || recs[0].Actor != me {
			t.Errorf("export record %s (seq %d, by %s) for %d lines up to %d", recs[0].Details, recs[0].Seq, recs[0].Actor, len(lines), last.Seq)
		}

		if w := do(s, "POST", "/admin/audit/export", nil, map[string]string{"Cookie": cookieOf(sup), "Sec-Fetch-Site": "same-origin"}); w.Code != http.StatusNotFound {
			t.Errorf("support POST export: %d", w.Code)
		}
		for _, path := range []string{"/admin/audit", "/admin/policy", "/admin/outbox", "/admin/keys"} {
			if w := do(s, "GET", path, nil, map[string]string{"Cookie": cookieOf(sup)}); w.Code != http.StatusNotFound {
				t.Errorf("support GET %s: %d", path, w.Code)
			}
			if w := do(s, "GET", path, nil, nil); w.Code == 200 {
				t.Errorf("anonymous GET %s: %d", path, w.Code)
			}
		}
		makeStale(t, s, aud)
		if w := do(s, "POST", "/admin/audit/export", nil, map[string]string{"Cookie": cookieOf(aud), "Sec-Fetch-Site": "same-origin"}); w.Code != http.StatusSeeOther {
			t.Errorf("stale export: %d", w.Code)
		}
		if w := do(s, "GET", "/admin/audit", nil, map[string]string{"Cookie": cookieOf(aud)}); w.Code != 200 {
			t.Errorf("stale search (no step-up needed): %d", w.Code)
		}
	})
}

// withPolicyFile gives each test server an override file path of its own
// (not created yet).
func withPolicyFile(t *testing.T) testOption {
	return func(d *Deps) { d.PolicyFile = filepath.Join(t.TempDir(), "policy.toml") }
}

// TestPolicyPage: admins edit the override file through the page; a
// refused value writes nothing and shows what was typed with the
// validator's reason; every change is audited with old and new value;
// auditors read and cannot save (MTL-3.2.2).
func TestPolicyPage(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		file := s.policyFile
		admin := signInAs(t, s, "padmin@example.com", access.RoleAdmin)
		aud := signInAs(t, s, "paud@example.com", access.RoleAuditor)
		w := do(s, "GET", "/admin/policy", nil, map[string]string{"Cookie": cookieOf(aud)})
		if w.Code != 200 || strings.Contains(w.Body.String(), `name="setting.`) || !strings.Contains(w.Body.String(), "session.idle_timeout") {
			t.Errorf("auditor view: %d (an edit form is offered: %v)", w.Code, strings.Contains(w.Body.String(), `name="setting.`))
		}
		if r := post(s, "/admin/policy", url.Values{"setting.session.idle_timeout": {"20m"}}, cookieOf(aud)); r.StatusCode != http.StatusNotFound {
			t.Errorf("auditor save: %d", r.StatusCode)
		}
		if w := do(s, "GET", "/admin/policy", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 || !strings.Contains(w.Body.String(), `name="setting.session.idle_timeout"`) ||
			strings.Contains(w.Body.String(), "not in force yet") || strings.Contains(w.Body.String(), "(file:") || strings.Contains(w.Body.String(), "does not load") {
			t.Fatalf("admin view before any save: %d\n%s", w.Code, w.Body.String())
		}
		bad := do(s, "POST", "/admin/policy", strings.NewReader(url.Values{
			"setting.session.idle_timeout": {"48h"}, "setting.password.min_length": {"abc"}, "setting.lockout.threshold": {"7"}}.Encode()),
			map[string]string{"Cookie": cookieOf(admin), "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"})
		body := bad.Body.String()
		if bad.Code != http.StatusUnprocessableEntity || !strings.Contains(body, "Nothing was saved") ||
			!strings.Contains(body, `value="48h" maxlength="2000" class="input-small" aria-invalid="true" aria-describedby="p-session.idle_timeout"`) ||
			!strings.Contains(body, `<span class="field-problem" id="p-password.min_length">not a whole number</span>`) ||
			!strings.Contains(body, `value="7"`) {
			t.Errorf("invalid value: %d, the reasons or the typed values are missing:\n%s", bad.Code, body)
		}
		if _, err := os.Stat(file); err == nil {
			t.Error("a refused edit wrote the file")
		}
		r := post(s, "/admin/policy", url.Values{"setting.session.idle_timeout": {"20m"}, "setting.lockout.threshold": {"10"}}, cookieOf(admin))
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %d", r.StatusCode)
		}
		b, _ := os.ReadFile(file)
		if !strings.Contains(string(b), `idle_timeout = "20m"`) || strings.Contains(string(b), "threshold") {
			t.Errorf("file:\n%s", b)
		}
		if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("file mode: %v %v", st, err)
		}
		recs, err := s.audit.Search(context.Background(), audit.Filter{Action: "policy.change"})
		if err != nil || len(recs) != 1 || recs[0].Target != "policy:session.idle_timeout" || recs[0].Actor != "account:"+accountOf(t, s, admin) {
			t.Fatalf("policy changes in the trail: %+v %v", recs, err)
		}
		var d map[string]string
		if err := json.Unmarshal(recs[0].Details, &d); err != nil || d["old"] != "30m" || d["new"] != "20m" {
			t.Errorf("the change is not audited with old and new value: %s", recs[0].Details)
		}
		page := do(s, "GET", "/admin/policy", nil, map[string]string{"Cookie": cookieOf(admin)}).Body.String()
		if !strings.Contains(page, "not in force yet") || !strings.Contains(page, "(file: 20m)") {
			t.Error("the page does not say the change waits for a restart")
		}
		if s.profile.Session.IdleTimeout.Duration.String() != "30m0s" {
			t.Error("the running profile changed")
		}
		// A file broken by hand since: the page says so, a save is
		// refused and leaves it as it is.
		broken := []byte("name = \"customer-portal\"\n[session]\nidle_timeout = \"3d\"\n")
		if err := os.WriteFile(file, broken, 0o600); err != nil {
			t.Fatal(err)
		}
		if page := do(s, "GET", "/admin/policy", nil, map[string]string{"Cookie": cookieOf(admin)}).Body.String(); !strings.Contains(page, "does not load as it is now") {
			t.Error("the page does not say the file is broken")
		}
		if r := post(s, "/admin/policy", url.Values{"setting.lockout.threshold": {"8"}}, cookieOf(admin)); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("save over a broken file: %d", r.StatusCode)
		}
		if b, _ := os.ReadFile(file); string(b) != string(broken) {
			t.Error("a save over a broken file changed it")
		}
	}, withPolicyFile(t))
}

// TestPolicyPageWithoutFile: with no --policy-file, the page says how to
// set one, offers no form, and a save writes nothing anywhere (MTL-3.2.2).
func TestPolicyPageWithoutFile(t *testing.T) {
	s := newTestServer(t)
	admin := signInAs(t, s, "nadmin@example.com", access.RoleAdmin)
	page := do(s, "GET", "/admin/policy", nil, map[string]string{"Cookie": cookieOf(admin)}).Body.String()
	if strings.Contains(page, `name="setting.`) || !strings.Contains(page, "--policy-file") {
		t.Error("the page offers an edit form without a policy file, or does not say how to set one")
	}
	if r := post(s, "/admin/policy", url.Values{"setting.session.idle_timeout": {"20m"}}, cookieOf(admin)); r.StatusCode != http.StatusConflict {
		t.Errorf("save without a file: %d", r.StatusCode)
	}
	if recs, _ := s.audit.Search(context.Background(), audit.Filter{Action: "policy.change"}); len(recs) != 0 {
		t.Error("a change was recorded")
	}
}

// TestOutboxAndKeysPages: the outbox lists undelivered mail without
// addresses; an administrator rotates the master key from the page, with
// a fresh sign-in, and the rotation is audited (CP-5.1, MTL-1.1,
// MTL-3.2.2).
func TestOutboxAndKeysPages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := signInAs(t, s, "kadmin@example.com", access.RoleAdmin)
		if w := do(s, "GET", "/admin/outbox", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 {
			t.Fatalf("outbox: %d", w.Code)
		}
		id := accountOf(t, s, admin)
		if err := s.db.Transact(ctx, func(tx *db.Tx) error {
			return s.notices.QueueEmail(ctx, tx, notify.Email{AccountID: id, To: "kadmin@example.com", Kind: "security.test-mail", Subject: "Private subject", Text: "Private text"})
		}); err != nil {
			t.Fatal(err)
		}
		w := do(s, "GET", "/admin/outbox", nil, map[string]string{"Cookie": cookieOf(admin)})
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, "security.test-mail") || !strings.Contains(body, "/admin/users/"+id) {
			t.Errorf("outbox: %d, the queued mail is not listed", w.Code)
		}
		if strings.Contains(body, "kadmin@") || strings.Contains(body, "Private") {
			t.Error("the outbox page shows an address or a text")
		}

		if w := do(s, "GET", "/admin/keys", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 || !strings.Contains(w.Body.String(), "Last rotation</dt><dd>never") {
			t.Fatalf("keys: %d", w.Code)
		}
		before, err := s.keys.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := post(s, "/admin/keys/rotate", url.Values{}, cookieOf(admin))
		if r.StatusCode != 200 {
			t.Fatalf("rotate: %d", r.StatusCode)
		}
		after, err := s.keys.Status(ctx)
		if err != nil || after.PrimaryKeyID == before.PrimaryKeyID || after.MasterKeys != before.MasterKeys+1 || after.NotUnderPrimary != 0 || after.LastRotation.IsZero() {
			t.Errorf("keyring after the rotation: %+v (before %+v) %v", after, before, err)
		}
		recs, err := s.audit.Search(ctx, audit.Filter{Action: "keys.rotate"})
		if err != nil || len(recs) != 1 || recs[0].Outcome != audit.Success || recs[0].Actor != "account:"+id {
			t.Errorf("the rotation is not audited: %+v %v", recs, err)
		}
		// The data encrypted before still opens: the outbox still lists
		// and the signed-in session still works.
		if w := do(s, "GET", "/admin/outbox", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 || !strings.Contains(w.Body.String(), "security.test-mail") {
			t.Errorf("outbox after the rotation: %d", w.Code)
		}
		aud := signInAs(t, s, "kaud@example.com", access.RoleAuditor)
		if r := post(s, "/admin/keys/rotate", url.Values{}, cookieOf(aud)); r.StatusCode != http.StatusNotFound {
			t.Errorf("auditor rotate: %d", r.StatusCode)
		}
		makeStale(t, s, admin)
		if r := post(s, "/admin/keys/rotate", url.Values{}, cookieOf(admin)); r.StatusCode != http.StatusSeeOther {
			t.Errorf("stale rotate: %d", r.StatusCode)
		}
		if st, _ := s.keys.Status(ctx); st.PrimaryKeyID != after.PrimaryKeyID {
			t.Error("a stale session rotated the key")
		}
	})
}

// TestWeakeningPolicyEditNeedsASecondAdmin covers CP-5.2, CP-5.3 and
// MTL-7.2: a retention under its evidence floor is refused outright; an
// edit that weakens a control (a shorter audit retention) is not written
// but filed; the requester cannot approve it; a second administrator's
// approval writes it, audited with the request.
func TestWeakeningPolicyEditNeedsASecondAdmin(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		file := s.policyFile
		a1 := signInAs(t, s, "w-admin1@example.com", access.RoleAdmin)
		a2 := signInAs(t, s, "w-admin2@example.com", access.RoleAdmin)
		if r := post(s, "/admin/policy", url.Values{"setting.retention.audit_events": {"1s"}}, cookieOf(a1)); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("an audit retention of one second: %d", r.StatusCode)
		}
		r := post(s, "/admin/policy", url.Values{"setting.retention.audit_events": {"400d"}, "setting.session.idle_timeout": {"20m"}}, cookieOf(a1))
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/approvals?done=policy-requested" {
			t.Fatalf("a weakening edit: %d %s", r.StatusCode, r.Header.Get("Location"))
		}
		if _, err := os.Stat(file); err == nil {
			t.Fatal("a weakening edit was written without approval")
		}
		page := do(s, "GET", "/admin/approvals", nil, map[string]string{"Cookie": cookieOf(a2)}).Body.String()
		m := regexp.MustCompile(`/admin/approvals/([a-z2-7]{26})/approve`).FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, "retention.audit_events: 730d → 400d") || !strings.Contains(page, "session.idle_timeout: 30m → 20m") {
			t.Fatalf("the approvals page does not show the request:\n%s", page)
		}
		if r := post(s, "/admin/approvals/"+m[1]+"/approve", url.Values{}, cookieOf(a1)); r.StatusCode != http.StatusForbidden {
			t.Errorf("the requester approved: %d", r.StatusCode)
		}
		if _, err := os.Stat(file); err == nil {
			t.Fatal("the requester's own approval wrote the file")
		}
		if r := post(s, "/admin/approvals/"+m[1]+"/approve", url.Values{}, cookieOf(a2)); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("a second administrator's approval: %d", r.StatusCode)
		}
		b, _ := os.ReadFile(file)
		if !strings.Contains(string(b), `audit_events = "400d"`) || !strings.Contains(string(b), `idle_timeout = "20m"`) {
			t.Errorf("after approval the file holds:\n%s", b)
		}
		recs, err := s.audit.Search(context.Background(), audit.Filter{Action: "policy.change", Target: "policy:retention.audit_events"})
		if err != nil || len(recs) != 1 || recs[0].Actor != "account:"+accountOf(t, s, a2) || !strings.Contains(string(recs[0].Details), m[1]) {
			t.Errorf("the approved change in the trail: %+v %v", recs, err)
		}
		if r := post(s, "/admin/approvals/"+m[1]+"/approve", url.Values{}, cookieOf(a2)); r.StatusCode != http.StatusConflict {
			t.Errorf("a second approval of the same request: %d", r.StatusCode)
		}
	}, withPolicyFile(t))
}
