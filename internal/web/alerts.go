package web

import (
	"net/http"
	"strings"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/detect"
)

// alertRoutes are the security team's triage queue of detection alerts
// (CP-3.2, CP-8.1, CP-8.2).
func (s *Server) alertRoutes() []route {
	if s.detect == nil {
		return nil
	}
	return []route{
		{"GET /security/alerts", access.IncidentManage, s.alertsPage},
		{"GET /security/alerts/{id}", access.IncidentManage, s.alertPage},
		{"POST /security/alerts/{id}/state", access.IncidentManage, s.alertState},
		{"POST /security/alerts/{id}/responses/{rid}/undo", access.IncidentManage, s.alertUndo},
	}
}

type alertsPage struct {
	Page
	Alerts  []detect.Record
	State   string
	Counts  map[string]int
	Reports []detect.Report // reports not closed: the other half of the queue
}

// alertStates are the list's filters.
var alertStates = map[string][]string{
	"open":         {detect.StateNew, detect.StateAcknowledged},
	"dismissed":    {detect.StateDismissed},
	"escalated":    {detect.StateEscalated},
	"acknowledged": {detect.StateAcknowledged},
	"new":          {detect.StateNew},
}

// alertsPage lists alerts, open ones first by default, most recent first.
//
// Enforces CP-3.2, CP-8.1: the security team sees every alert the rules
// raise, with its severity, rule and subject, and what is still open.
func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	states, ok := alertStates[state]
	if !ok {
		return apperr.New(apperr.Invalid, "Choose open, new, acknowledged, dismissed or escalated alerts.")
	}
	alerts, err := s.detect.Alerts(ctx, detect.Filter{States: states, Rule: r.URL.Query().Get("rule")})
	if err != nil {
		return err
	}
	counts, err := s.detect.Counts(ctx)
	if err != nil {
		return err
	}
	reports, err := s.detect.Reports(ctx, detect.ReportFilter{States: []string{detect.ReportOpen, detect.ReportWaiting}, Limit: 50})
	if err != nil {
		return err
	}
	return s.render(w, "alerts", alertsPage{Page: s.page(w, r, "Security alerts"), Alerts: alerts, State: state, Counts: counts, Reports: reports})
}

type alertPage struct {
	Page
	Alert     detect.Record
	Responses []detect.Response
	Evidence  []audit.Record
	Undoable  map[string]bool
}

// alertPage shows one alert: what the rule saw, in words and as the audit
// events behind it, what it did, and the triage decisions.
func (s *Server) alertPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderAlert(w, r, http.StatusOK, "")
}

func (s *Server) renderAlert(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	ctx := r.Context()
	a, err := s.detect.Alert(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	page := alertPage{Page: s.page(w, r, "Alert: "+a.Rule), Alert: a, Undoable: map[string]bool{}}
	page.Error = errMsg
	if page.Responses, err = s.detect.Responses(ctx, a.ID); err != nil {
		return err
	}
	now := s.db.Now()
	for _, resp := range page.Responses {
		page.Undoable[resp.ID] = resp.Undoable(now)
	}
	for _, seq := range a.Evidence {
		recs, err := s.audit.After(ctx, seq-1, 1)
		if err != nil {
			return err
		}
		if len(recs) == 1 && recs[0].Seq == seq {
			page.Evidence = append(page.Evidence, recs[0])
		}
	}
	return s.renderStatus(w, status, "alert", page)
}

// alertState records a triage decision: acknowledge, dismiss (with a
// reason) or escalate.
func (s *Server) alertState(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	id := r.PathValue("id")
	err := s.detect.SetState(ctx, id, r.PostForm.Get("state"), r.PostForm.Get("reason"), p.AccountID)
	if err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderAlert(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/security/alerts/"+id+"?done=alert-"+strings.TrimSpace(r.PostForm.Get("state")), http.StatusSeeOther)
	return nil
}

// alertUndo takes back one automatic response of an alert.
func (s *Server) alertUndo(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if err := s.detect.Undo(ctx, r.PathValue("rid"), access.PrincipalFrom(ctx).AccountID); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderAlert(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/security/alerts/"+id+"?done=response-undone", http.StatusSeeOther)
	return nil
}
