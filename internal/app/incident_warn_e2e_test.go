package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/session"
)

// TestIncidentClockWarnings (CP-7.1, MTL-5.1.1), on SQLite and
// PostgreSQL: the whole program warns the security team by email of an
// incident past half its customers' deadline, with a link to it, shows
// the warning in the live feed, and raises an incident_overdue alert for
// an incident past the deadline.
//
// The server's clock is the real one, so time is moved by opening the
// incidents with detection times in the past (13 and 25 hours ago, with
// the reason the earlier time needs) before the server starts: its first
// pass of warnings finds them at half time and overdue.
func TestIncidentClockWarnings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"--database-url", dbtest.PostgresURL(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) { incidentWarningsFlow(t, tc.extra(t)...) })
	}
}

func incidentWarningsFlow(t *testing.T, extra ...string) {
	mail := mailtest.Start(t)
	cfg := e2eConfig(t, mail.URL(), extra...)
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st := a.Storage()
	ids, closeIDs, err := app.NewIdentity(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeIDs() })
	const sec = "sec.clock@example.test"
	token, _ := signedIn(t, st, ids, sec, access.RoleSecurity, "clock-test")

	ctx := context.Background()
	incs := incident.New(st.DB, st.Audit, st.Profile)
	open := func(title string, ago time.Duration) incident.Incident {
		t.Helper()
		inc, err := incs.Open(ctx, incident.NewIncident{Title: title, Severity: "high", Category: "data exposure",
			DetectedAt: time.Now().Add(-ago), DetectedReason: "Found in the web server's logs."}, "sec")
		if err != nil {
			t.Fatal(err)
		}
		return inc
	}
	half := open("Export bucket left public", 13*time.Hour)
	overdue := open("Support attachments exposed", 25*time.Hour)

	ctx, cancel := context.WithCancel(ctx)
	r := &running{App: a, logs: &lockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx, io.Discard) }()
	t.Cleanup(func() { r.stop(t) })

	// Half time: the security member is told, with the link.
	m := mail.WaitFor(t, func(m mailtest.Message) bool {
		return slices.Contains(m.To, sec) && strings.Contains(m.Text, "/security/incidents/"+half.ID)
	}, 20*time.Second)
	if !strings.HasPrefix(m.Subject, "Incident clock at half time: notify the affected customers") ||
		!strings.Contains(m.Text, "Export bucket left public") || !strings.Contains(m.Text, a.URL()+"/security/incidents/"+half.ID) {
		t.Errorf("half-time warning: %q\n%s", m.Subject, m.Text)
	}
	// Overdue: the warning, and the alert detection raises from it.
	mail.WaitFor(t, func(m mailtest.Message) bool {
		return slices.Contains(m.To, sec) && strings.HasPrefix(m.Subject, "Incident deadline passed: notify the affected customers") &&
			strings.Contains(m.Text, "/security/incidents/"+overdue.ID)
	}, 20*time.Second)
	mail.WaitFor(t, func(m mailtest.Message) bool {
		return slices.Contains(m.To, sec) && strings.HasPrefix(m.Subject, "Security alert: incident_overdue (high)")
	}, 20*time.Second)
	var subject, kind string
	if err := st.DB.QueryRowContext(ctx, `SELECT subject, subject_kind FROM alerts WHERE rule = 'incident_overdue'`).Scan(&subject, &kind); err != nil ||
		subject != overdue.ID || kind != "incident" {
		t.Errorf("incident_overdue alert on %s %q (%v), want incident %s", kind, subject, err, overdue.ID)
	}

	// The live feed (the dashboard lists its recent events).
	req, err := http.NewRequest("GET", a.URL()+"/security/dashboard", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: session.CookieName, Value: token})
	req.Header.Set("User-Agent", "clock-test")
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	for _, id := range []string{"w" + half.ID + "-customers-half", "w" + overdue.ID + "-customers-overdue"} {
		if !strings.Contains(string(page), `data-id="`+id+`"`) {
			t.Errorf("the dashboard's feed (status %d) lacks the warning %s", resp.StatusCode, id)
		}
	}
	feed := string(page)
	if i := strings.Index(feed, `<ol class="feed"`); i >= 0 {
		feed = feed[i:]
		feed = feed[:strings.Index(feed, "</ol>")]
	}
	if strings.Contains(feed, "Export bucket left public") {
		t.Error("the feed shows an incident's title: it carries codes only")
	}
	// The open incidents above the charts count their clocks down
	// (CP-7.1): the overdue one says so.
	if !strings.Contains(string(page), "Export bucket left public") || !strings.Contains(string(page), "overdue since") {
		t.Error("the dashboard does not list the open incidents with their clocks")
	}
}
