package web

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/training"
)

// quizForm is the form that answers m's quiz, every question right but
// those in wrong.
func quizForm(m training.Module, wrong ...int) url.Values {
	f := url.Values{}
	for i, q := range m.Questions {
		bad := false
		for _, w := range wrong {
			bad = bad || w == i
		}
		for c := range q.Choices {
			if q.Right(c) != bad {
				f.Set("q"+strconv.Itoa(i), strconv.Itoa(c))
				break
			}
		}
	}
	return f
}

func bodyText(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return html.UnescapeString(string(b))
}

// TestTrainingLiftsRestriction (CP-12, MTL-8.1): a member of staff in
// restricted mode for overdue training is told where to take it, opens
// /training, fails a quiz (told which questions, still restricted),
// passes every module assigned, and then reaches their role's pages; a
// customer has no training pages.
func TestTrainingLiftsRestriction(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		if _, err := s.training.InstallDefaults(ctx); err != nil {
			t.Fatal(err)
		}
		tok := signInAs(t, s, "late@example.com", access.RoleSupport)
		id := accountOf(t, s, tok)
		if err := s.db.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE accounts SET created_at = $1 WHERE id = $2`, time.Now().Add(-30*24*time.Hour), id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		h := map[string]string{"Cookie": cookieOf(tok)}
		if w := do(s, "GET", "/desk", nil, h); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "/training") {
			t.Fatalf("role page while restricted: %d", w.Code)
		}
		w := do(s, "GET", "/account", nil, h)
		if page := w.Body.String(); !strings.Contains(page, `<a href="/training">Take your training now</a>`) {
			t.Errorf("the banner does not link to the training:\n%s", visibleText(page))
		}
		w = do(s, "GET", "/training", nil, h)
		page := html.UnescapeString(w.Body.String())
		if w.Code != 200 || strings.Count(page, `href="/training/`) != 4 || !strings.Contains(page, "not started") || !strings.Contains(page, "overdue") {
			t.Fatalf("training list: %d\n%s", w.Code, visibleText(page))
		}
		mods, err := s.training.Modules(ctx)
		if err != nil || len(mods) != 4 {
			t.Fatal(len(mods), err)
		}
		if w := do(s, "GET", "/training/"+mods[0].Slug, nil, h); w.Code != 200 || !strings.Contains(w.Body.String(), mods[0].Questions[0].Text[:20]) {
			t.Fatalf("module page: %d", w.Code)
		}
		// A failure: the questions are named, the restriction stays.
		r := post(s, "/training/"+mods[0].Slug, quizForm(mods[0], 1, 2), cookieOf(tok))
		if body := bodyText(r); r.StatusCode != 200 || !strings.Contains(visibleText(body), "Questions answered wrong or not at all: 2, 3") || !strings.Contains(body, "You scored 60%") {
			t.Fatalf("failed attempt: %d\n%s", r.StatusCode, visibleText(body))
		}
		if w := do(s, "GET", "/desk", nil, h); w.Code != http.StatusForbidden {
			t.Fatalf("a failed attempt opened the desk: %d", w.Code)
		}
		for i, m := range mods {
			r := post(s, "/training/"+m.Slug, quizForm(m), cookieOf(tok))
			want := "/training?done=training-passed"
			if i == len(mods)-1 {
				want = "/training?done=training-complete"
			}
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Fatalf("pass %d: %d %q\n%s", i, r.StatusCode, r.Header.Get("Location"), visibleText(bodyText(r)))
			}
			if i < len(mods)-1 {
				if w := do(s, "GET", "/desk", nil, h); w.Code != http.StatusForbidden {
					t.Fatalf("the desk opened after %d of %d modules: %d", i+1, len(mods), w.Code)
				}
			}
		}
		if w := do(s, "GET", "/desk", nil, h); w.Code != 200 {
			t.Fatalf("the desk after passing every module: %d", w.Code)
		}
		if w := do(s, "GET", "/training", nil, h); strings.Count(w.Body.String(), "passed on") != 4 {
			t.Errorf("the list after passing:\n%s", visibleText(w.Body.String()))
		}
		if n := auditCount(t, s, "account.training.record", "account:"+id); n != 1 {
			t.Errorf("%d training records audited", n)
		}
		cust := signInFull(t, s, "customer@example.com")
		for _, path := range []string{"/training", "/training/" + mods[0].Slug} {
			if w := do(s, "GET", path, nil, map[string]string{"Cookie": cookieOf(cust)}); w.Code == 200 {
				t.Errorf("a customer opened %s", path)
			}
		}
		if r := post(s, "/training/"+mods[0].Slug, quizForm(mods[0]), cookieOf(cust)); r.StatusCode < 400 {
			t.Errorf("a customer sent a quiz: %d", r.StatusCode)
		}
	})
}

var hiddenInput = regexp.MustCompile(`<input type="hidden"[^>]*>`)

// quizPart is the quiz form of a module page, without the CSRF token.
func quizPart(t *testing.T, page string) string {
	t.Helper()
	i, j := strings.Index(page, `<h2 id="quiz-heading">`), strings.LastIndex(page, `</form>`)
	if i < 0 || j < i {
		t.Fatalf("no quiz on the page:\n%s", page)
	}
	return hiddenInput.ReplaceAllString(page[i:j], "")
}

// TestTrainingAnswersNotSent (MTL-8.1): which answer is right never
// reaches the browser: two modules that differ only in which answer is
// right give the same quiz page, before and after a failed attempt.
func TestTrainingAnswersNotSent(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		admin := cookieOf(signInAs(t, s, "admin@example.com", access.RoleAdmin))
		staff := cookieOf(signInAs(t, s, "agent@example.com", access.RoleSupport))
		for slug, quiz := range map[string]string{
			"first":  "? Which?\n* one\n- two\n- three\n? And?\n- four\n* five\n- six\n",
			"second": "? Which?\n- one\n- two\n* three\n? And?\n* four\n- five\n- six\n",
		} {
			r := post(s, "/admin/training", url.Values{"slug": {slug}, "title": {"Same"}, "lesson": {"Same lesson."}, "quiz": {quiz},
				"pass_mark": {"100"}, "audience": {"support"}}, admin)
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("create %s: %d\n%s", slug, r.StatusCode, visibleText(bodyText(r)))
			}
		}
		get := func(slug string) string {
			w := do(s, "GET", "/training/"+slug, nil, map[string]string{"Cookie": staff})
			if w.Code != 200 {
				t.Fatalf("%s: %d", slug, w.Code)
			}
			return strings.ReplaceAll(quizPart(t, w.Body.String()), slug, "SLUG")
		}
		first, second := get("first"), get("second")
		if first != second {
			t.Errorf("the quiz pages differ with the right answers:\n%s\n---\n%s", first, second)
		}
		if strings.Contains(first, "checked") || strings.Contains(first, "right") || strings.Contains(first, "correct") {
			t.Errorf("the quiz page marks an answer:\n%s", first)
		}
		r := post(s, "/training/first", url.Values{"q0": {"1"}, "q1": {"1"}}, staff)
		raw, _ := io.ReadAll(r.Body)
		body := string(raw)
		if r.StatusCode != 200 || strings.ReplaceAll(quizPart(t, body), "first", "SLUG") != first || !strings.Contains(visibleText(body), "not at all: 1.") {
			t.Errorf("after a failed attempt: %d\n%s", r.StatusCode, visibleText(body))
		}
	})
}

// TestAdminTrainingPages (MTL-8.1): administrators add a module from the
// form (a bad quiz is refused with the reason and nothing written), see
// completion and the overdue staff, edit and deactivate; auditors read
// but change nothing; training done elsewhere is recorded with a note
// kept on the account's page.
func TestAdminTrainingPages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		if _, err := s.training.InstallDefaults(ctx); err != nil {
			t.Fatal(err)
		}
		admin := cookieOf(signInAs(t, s, "admin@example.com", access.RoleAdmin))
		auditor := cookieOf(signInAs(t, s, "auditor@example.com", access.RoleAuditor))
		lateTok := signInAs(t, s, "late@example.com", access.RoleSupport)
		late := accountOf(t, s, lateTok)
		if err := s.db.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE accounts SET created_at = $1 WHERE id = $2`, time.Now().Add(-30*24*time.Hour), late)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		get := func(path, cookie string) (int, string) {
			w := do(s, "GET", path, nil, map[string]string{"Cookie": cookie})
			return w.Code, html.UnescapeString(w.Body.String())
		}
		code, page := get("/admin/training", admin)
		if code != 200 || !strings.Contains(page, "0 of 3 staff passed") || !strings.Contains(page, late) || !strings.Contains(page, "Add a module") {
			t.Fatalf("overview: %d\n%s", code, visibleText(page))
		}
		if code, page := get("/admin/training", auditor); code != 200 || strings.Contains(page, "Add a module") {
			t.Errorf("auditor's overview: %d", code)
		}
		if code, _ := get("/admin/training/new", admin); code != 200 {
			t.Errorf("new form: %d", code)
		}
		form := url.Values{"slug": {"clean-desk"}, "title": {"Clean desk"}, "lesson": {"Lock your screen."}, "pass_mark": {"50"}, "audience": {"support", "admin"},
			"quiz": {"? When?\n- Never\n- At night\n"}}
		r := post(s, "/admin/training", form, admin)
		if body := bodyText(r); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Question 1 has 2 answers") || !strings.Contains(body, `aria-invalid="true"`) {
			t.Fatalf("bad quiz: %d\n%s", r.StatusCode, visibleText(body))
		}
		if r := post(s, "/admin/training", form, auditor); r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusForbidden {
			t.Errorf("auditor creates: %d", r.StatusCode)
		}
		if _, err := s.training.Module(ctx, "clean-desk"); err == nil {
			t.Fatal("a refused module was written")
		}
		form.Set("quiz", "? When?\n- Never\n* When you leave\n- At night\n")
		if r := post(s, "/admin/training", form, admin); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/training/clean-desk?done=module-created" {
			t.Fatalf("create: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		code, page = get("/admin/training/clean-desk", admin)
		if code != 200 || !strings.Contains(page, "not started") || !strings.Contains(page, "* When you leave") {
			t.Fatalf("module page: %d\n%s", code, visibleText(page))
		}
		if code, page := get("/admin/training/clean-desk", auditor); code != 200 || strings.Contains(page, "* When you leave") {
			t.Errorf("the auditor's module page: %d (the quiz source is for administrators)", code)
		}
		form.Set("title", "Clean desk, clear screen")
		if r := post(s, "/admin/training/clean-desk", form, admin); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("edit: %d\n%s", r.StatusCode, visibleText(bodyText(r)))
		}
		if m, _ := s.training.Module(ctx, "clean-desk"); m.Version != 2 || m.Title != "Clean desk, clear screen" {
			t.Errorf("after the edit: %+v", m)
		}
		if r := post(s, "/admin/training/clean-desk/active", nil, admin); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("deactivate: %d", r.StatusCode)
		}
		if _, page := get("/admin/training", admin); !strings.Contains(page, "not assigned") {
			t.Error("the deactivated module is still assigned")
		}
		if n := auditCount(t, s, "training.module_deactivate", "training_module:clean-desk"); n != 1 {
			t.Errorf("%d deactivations audited", n)
		}
		// Training done elsewhere, with a note.
		r = post(s, "/admin/users/"+late+"/training", url.Values{"date": {time.Now().UTC().Format("2006-01-02")}, "note": {"Insurer's phishing course, certificate on file"}}, admin)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("record with a note: %d\n%s", r.StatusCode, visibleText(bodyText(r)))
		}
		if _, page := get("/admin/users/"+late, admin); !strings.Contains(page, "Recorded by hand: Insurer's phishing course, certificate on file") {
			t.Errorf("the note is not on the account's page:\n%s", visibleText(page))
		}
		if w := do(s, "GET", "/desk", nil, map[string]string{"Cookie": cookieOf(lateTok)}); w.Code != 200 {
			t.Errorf("the desk after training recorded by hand: %d", w.Code)
		}
	})
}
