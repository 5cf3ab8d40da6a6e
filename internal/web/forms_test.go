package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestEmptySignupShowsEveryProblem: an empty sign-up form is answered
// with all four problems at once (name, email, password, privacy
// consent), each next to its input, which points to it with
// aria-describedby and is marked aria-invalid, and a summary at the top
// (role=alert) that links to each input. Nothing is created.
func TestEmptySignupShowsEveryProblem(t *testing.T) {
	s := newTestServer(t)
	accounts := func() int {
		var n int
		if err := s.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := accounts()
	resp := post(s, "/signup", url.Values{}, "")
	body := readBody(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("empty sign-up: %d, want 422", resp.StatusCode)
	}
	if n := accounts(); n != before {
		t.Errorf("an empty sign-up made %d accounts", n-before)
	}
	if strings.Contains(body, "Check your email") {
		t.Fatal("an empty sign-up was accepted")
	}

	summary := regexp.MustCompile(`(?s)<div class="error-summary" role="alert" aria-labelledby="problems-heading">(.*?)</div>`).FindStringSubmatch(body)
	if summary == nil {
		t.Fatalf("no problem summary with role=alert:\n%s", body)
	}
	if !strings.Contains(summary[1], "There are 4 problems") {
		t.Errorf("the summary does not count four problems: %s", summary[1])
	}
	for _, tc := range []struct{ field, want string }{
		{"name", "Enter your name."},
		{"email", "Enter your email address."},
		{"password", "Choose a password."},
		{"privacy", "privacy notice"},
	} {
		// The summary links to the input.
		link := regexp.MustCompile(`<li><a href="#` + tc.field + `">([^<]*)</a></li>`).FindStringSubmatch(summary[1])
		if link == nil || !strings.Contains(link[1], tc.want) {
			t.Errorf("%s: the summary has no link to the input saying %q", tc.field, tc.want)
		}
		// The input is invalid and described by its problem, which says
		// what to fix.
		input := regexp.MustCompile(`<input id="` + tc.field + `"[^>]*>`).FindString(body)
		if !strings.Contains(input, `aria-invalid="true"`) {
			t.Errorf("%s: the input is not aria-invalid: %s", tc.field, input)
		}
		desc := regexp.MustCompile(`aria-describedby="([^"]*)"`).FindStringSubmatch(input)
		if desc == nil || !strings.Contains(" "+desc[1]+" ", " "+tc.field+"-problem ") {
			t.Errorf("%s: the input is not described by its problem: %s", tc.field, input)
			continue
		}
		problem := regexp.MustCompile(fmt.Sprintf(`<p class="field-problem" id="%s-problem">([^<]*)</p>`, tc.field)).FindStringSubmatch(body)
		if problem == nil || !strings.Contains(problem[1], tc.want) {
			t.Errorf("%s: no problem next to the input saying %q", tc.field, tc.want)
		}
		if strings.Count(body, `id="`+tc.field+`-problem"`) != 1 {
			t.Errorf("%s: the problem's id is not unique", tc.field)
		}
	}
}

// TestFormProblemsAreTiedToTheirFields: the password change, reset and
// contact forms show their problems next to the inputs they are about.
func TestFormProblemsAreTiedToTheirFields(t *testing.T) {
	s := newTestServer(t)
	c := cookieOf(signInFull(t, s, "forms@example.com"))

	resp := post(s, "/account/contact", url.Values{"name": {"Sam"}, "phone": {"call me maybe"}}, c)
	body := readBody(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity ||
		!regexp.MustCompile(`<input id="phone"[^>]* aria-invalid="true" aria-describedby="phone-problem"`).MatchString(body) ||
		!strings.Contains(body, `<p class="field-problem" id="phone-problem">A phone number`) ||
		!strings.Contains(body, `<li><a href="#phone">A phone number`) ||
		strings.Contains(body, `id="name-problem"`) {
		t.Errorf("contact with a bad phone: %d\n%s", resp.StatusCode, body)
	}

	resp = post(s, "/account/password", url.Values{"current": {testPassword}, "new": {"a-brand-new-passphrase-42"}, "confirm": {"something else"}}, c)
	body = readBody(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity ||
		!regexp.MustCompile(`<input id="confirm"[^>]* aria-invalid="true" aria-describedby="confirm-problem"`).MatchString(body) ||
		!strings.Contains(body, `<li><a href="#confirm">The two new passwords differ`) {
		t.Errorf("password change with different confirmation: %d\n%s", resp.StatusCode, body)
	}

	resp = post(s, "/account/password", url.Values{"current": {"not my password at all"}, "new": {"a-brand-new-passphrase-42"}, "confirm": {"a-brand-new-passphrase-42"}}, c)
	body = readBody(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity ||
		!regexp.MustCompile(`<input id="current"[^>]* aria-invalid="true" aria-describedby="current-problem"`).MatchString(body) ||
		!strings.Contains(body, `<p class="field-problem" id="current-problem">Your current password is not right.</p>`) {
		t.Errorf("password change with a wrong current password: %d\n%s", resp.StatusCode, body)
	}

	resp = post(s, "/account/password", url.Values{"current": {testPassword}, "new": {"short"}, "confirm": {"short"}}, c)
	body = readBody(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity ||
		!regexp.MustCompile(`<input id="new"[^>]* aria-invalid="true" aria-describedby="new-problem password-rules"`).MatchString(body) ||
		!strings.Contains(body, `<li><a href="#new">`) {
		t.Errorf("password change to a weak password: %d\n%s", resp.StatusCode, body)
	}
}
