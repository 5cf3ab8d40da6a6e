package app

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/livefeed"
)

// connectIncidentWarnings delivers the incidents' clock warnings: by email
// to every active member of the security team, with a link to the
// incident, and in the live feed. An overdue clock becomes an alert as
// well: detection reads the warning from the audit trail and raises
// incident_overdue, which reaches the team like every alert.
//
// Enforces CP-7.1, MTL-5.1.1: the security team is warned of a notice
// deadline at half time, near it and once it has passed.
func connectIncidentWarnings(sv *Services, feed livefeed.Publisher, publicURL string) {
	sv.Incidents.SetWarned(func(ctx context.Context, tx *db.Tx, w incident.Warning) error {
		title, body := clockWarningText(w, publicURL)
		if err := sv.Identity.NotifyStaff(ctx, tx, string(access.RoleSecurity), "incident.clock", title, body); err != nil {
			return err
		}
		if feed == nil {
			return nil
		}
		// The feed carries codes only: not the title.
		return feed.Publish(ctx, tx, livefeed.Event{ID: "w" + w.IncidentID + "-" + w.Clock + "-" + w.State, At: w.At,
			Kind: livefeed.KindEvent, Action: "incident.clock_warning", Outcome: w.State,
			Summary: "incident, " + w.Clock + " clock, due " + w.Due.UTC().Format("2006-01-02 15:04") + " UTC"})
	})
}

// clockWarningText is a warning's email to the security team.
func clockWarningText(w incident.Warning, publicURL string) (title, body string) {
	who := w.Clock
	switch w.Clock {
	case "customers":
		who = "the affected customers"
	case "regulator":
		who = "the supervisory authority"
	}
	due := w.Due.UTC().Format("2 Jan 2006 15:04") + " UTC"
	left := w.Due.Sub(w.At).Round(time.Minute)
	var what string
	switch w.State {
	case incident.ClockHalf:
		title = "Incident clock at half time: notify " + who
		what = fmt.Sprintf("Half the time to notify %s is gone: the deadline is %s, in %s.", who, due, left)
	case incident.ClockNear:
		title = "Incident deadline near: notify " + who
		what = fmt.Sprintf("The deadline to notify %s is near: %s, in %s.", who, due, left)
	default:
		title = "Incident deadline passed: notify " + who
		what = fmt.Sprintf("The deadline to notify %s passed at %s, %s ago, and no notification is recorded. A late notice must give the reasons for the delay.", who, due, -left)
	}
	// The incident's title stays out of the subject (one line of at most
	// 200 characters, which a title of 200 would overflow), and loses any
	// control character: a warning that cannot be queued is never sent.
	plain := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, w.Title)
	body = what + "\n\nIncident: " + plain + " (" + w.Severity + ")\n\nOpen it at " + publicURL + "/security/incidents/" + w.IncidentID + " ."
	return title, body
}
