package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/livefeed"
	"github.com/portico/portico/internal/svgchart"
)

// dashboardRoutes are the security team's live dashboard and its feed
// (CP-8.1, CP-3.2).
func (s *Server) dashboardRoutes() []route {
	if s.detect == nil || s.feed == nil {
		return nil
	}
	return []route{
		{"GET /security/dashboard", access.IncidentManage, s.dashboardPage},
		{"GET /security/feed", access.IncidentManage, s.feedStream},
	}
}

type dashboardPage struct {
	Page
	Stats    detect.Stats
	Recent   []livefeed.Event
	Activity template.HTML
	Locks    template.HTML
	Rules    template.HTML
	Coverage template.HTML
	Open     int
	// Incidents are the open incidents with their clocks counting down
	// (CP-7.1, MTL-5.1.1).
	Incidents []incidentRow
}

// dashboardPage shows the security dashboard: charts drawn on the server
// as SVG, figures, and the latest security events and alerts. A script
// (portico.js) keeps the list live from /security/feed; without it the
// page reloads itself every 30 seconds.
//
// Enforces CP-8.1, CP-3.2: the security team watches sign-ins, failures,
// locks, alerts, MFA coverage and open reports as they happen.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request) error {
	st, err := s.detect.Stats(r.Context())
	if err != nil {
		return err
	}
	page := dashboardPage{Page: s.page(w, r, "Security dashboard"), Stats: st,
		Open: st.Alerts[detect.StateNew] + st.Alerts[detect.StateAcknowledged]}
	page.Refresh = 30
	recent := s.feed.Backlog()
	slices.Reverse(recent)
	page.Recent = recent[:min(len(recent), 50)]
	hours := make([]string, len(st.Hours))
	for i, h := range st.Hours {
		hours[i] = h.UTC().Format("15:00")
	}
	page.Activity = svgchart.StackedBars("Sign-ins per hour, last 24 hours (UTC)", "Successful and failed sign-in attempts.",
		hours, []svgchart.Series{{Name: "successful", Values: st.SignIns}, {Name: "failed", Values: st.Failures}},
		svgchart.Options{ID: "chart-signins", Unit: "sign-ins"})
	page.Locks = svgchart.Bars("Accounts locked per hour, last 24 hours (UTC)", "Locks after repeated failures or by a detection rule.",
		hours, st.Locks, svgchart.Options{ID: "chart-locks", Unit: "locks"})
	page.Rules = svgchart.Bars("Alerts by rule, last 7 days", "Alerts raised by each detection rule.",
		st.Rules, st.RuleAlerts, svgchart.Options{ID: "chart-rules", Unit: "alerts"})
	page.Coverage = svgchart.Donut("MFA coverage", "Active customers with a second factor.",
		fmt.Sprintf("%d of %d customers", st.WithFactor, st.Customers), float64(st.WithFactor), float64(st.Customers),
		svgchart.Options{ID: "chart-mfa"})
	if s.incidents != nil {
		var err error
		if page.Incidents, err = s.incidentRows(r.Context(), true, 20); err != nil {
			return err
		}
	}
	return s.render(w, "dashboard", page)
}

// feedStream is the live feed as server-sent events.
func (s *Server) feedStream(w http.ResponseWriter, r *http.Request) error {
	s.feed.ServeSSE(w, r)
	return nil
}
