package web

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/policy"
)

// TestHumanDuration: pages say durations in words, never in Go's form
// ("15m0s").
func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{15 * time.Minute, "15 minutes"},
		{12 * time.Hour, "12 hours"},
		{policy.Days(90), "90 days"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{time.Hour, "1 hour"},
		{time.Minute, "1 minute"},
		{72 * time.Hour, "72 hours"},
		{24 * time.Hour, "24 hours"},
		{7 * policy.Day, "7 days"},
		{policy.Duration{Duration: 8*policy.Day + 2*time.Hour}, "8 days 2 hours"},
		{policy.Days(1), "24 hours"},
		{5*time.Minute + 30*time.Second, "5 minutes 30 seconds"},
		{1500 * time.Millisecond, "2 seconds"},
		{time.Duration(0), "0 seconds"},
		{-15 * time.Minute, "minus 15 minutes"},
		{"15m", ""},
	} {
		if got := humanDuration(tc.in); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPagesSayDurationsInWords: the pages that show a duration (the
// policy page, the desk's customer page, the privacy notice) write it in
// words, never as Go prints it.
func TestPagesSayDurationsInWords(t *testing.T) {
	s := newTestServer(t)
	admin := signInAs(t, s, "admin@example.com", access.RoleAdmin)
	agent := signInAs(t, s, "agent@example.com", access.RoleSupport)
	cust := signInFull(t, s, "cust@example.com")
	custID := accountOf(t, s, cust)
	goForm := regexp.MustCompile(`\b\d+h\d+m\d+s\b|\b\d+m\d+s\b`)
	for _, tc := range []struct{ path, cookie, want string }{
		{"/admin/policy", admin, "(" + humanDuration(s.profile.Session.IdleTimeout) + ")"},
		{"/desk/customers/" + custID, agent, "it shows for " + humanDuration(s.profile.Access.RevealGrant)},
		{"/privacy", "", "within " + humanDuration(s.profile.Privacy.RequestDeadline)},
		{"/security", "", "within " + humanDuration(s.profile.Incident.CustomerNotification)},
	} {
		w := do(s, "GET", tc.path, nil, map[string]string{"Cookie": cookieOf(tc.cookie)})
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, want %q in the page", tc.path, w.Code, tc.want)
		}
		if m := goForm.FindString(body); m != "" {
			t.Errorf("GET %s shows %q", tc.path, m)
		}
	}
}
