package web

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/privacy"
)

// incidentRoutes are incident response (CP-7.1, CP-7.2, MTL-5.1.1): the
// security team runs incidents; auditors read them.
func (s *Server) incidentRoutes() []route {
	if s.incidents == nil {
		return nil
	}
	return []route{
		{"GET /security/incidents", access.IncidentRead, s.incidentsPage},
		{"GET /security/incidents/new", access.IncidentManage, s.incidentNewForm},
		{"POST /security/incidents", access.IncidentManage, s.incidentOpen},
		{"GET /security/incidents/{id}", access.IncidentRead, s.incidentPage},
		{"POST /security/incidents/{id}/check", access.IncidentManage, s.incidentAction},
		{"POST /security/incidents/{id}/advance", access.IncidentManage, s.incidentAction},
		{"POST /security/incidents/{id}/affected", access.IncidentManage, s.incidentAction},
		{"POST /security/incidents/{id}/contain", access.IncidentManage, s.incidentAction},
		{"POST /security/incidents/{id}/decision", access.IncidentManage, s.incidentAction},
		{"POST /security/incidents/{id}/awareness", access.IncidentManage, s.incidentAction},
	}
}

// incidentRow is an incident in the list, with its clocks now.
type incidentRow struct {
	incident.Incident
	Clocks []incident.Clock
}

type incidentsPage struct {
	Page
	Open      bool
	Incidents []incidentRow
	CanManage bool
}

// incidentsPage lists open (or closed) incidents with their legal clocks.
//
// Enforces CP-7.1, MTL-5.1.1: every open incident shows the customers'
// and the regulator's deadlines counting down.
func (s *Server) incidentsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	open := r.URL.Query().Get("state") != "closed"
	rows, err := s.incidentRows(ctx, open, 200)
	if err != nil {
		return err
	}
	page := incidentsPage{Page: s.page(w, r, "Incidents"), Open: open, Incidents: rows,
		CanManage: access.Allowed(access.PrincipalFrom(ctx), access.IncidentManage)}
	return s.render(w, "incidents", page)
}

// incidentRows are up to limit open (or closed) incidents with their
// clocks now, for the incident list and the dashboard.
func (s *Server) incidentRows(ctx context.Context, open bool, limit int) ([]incidentRow, error) {
	list, err := s.incidents.List(ctx, open, limit)
	if err != nil {
		return nil, err
	}
	rows := make([]incidentRow, 0, len(list))
	for _, inc := range list {
		clocks, err := s.incidents.ClocksNow(ctx, inc)
		if err != nil {
			return nil, err
		}
		rows = append(rows, incidentRow{inc, clocks})
	}
	return rows, nil
}

type incidentNewPage struct {
	Page
	Source     string
	Categories []string
	Severities []string
	Form       incidentForm
}

type incidentForm struct {
	Title, Severity, Category, DetectedAt, DetectedReason string
	Data                                                  map[string]bool
}

// incidentNewForm is the form that opens an incident, by hand or from the
// alert or report named by ?source=.
func (s *Server) incidentNewForm(w http.ResponseWriter, r *http.Request) error {
	src := r.URL.Query().Get("source")
	if src != "" && !strings.HasPrefix(src, "alert:") && !strings.HasPrefix(src, "report:") {
		return apperr.New(apperr.Invalid, "An incident comes from an alert, a report or is opened by hand.")
	}
	return s.renderIncidentNew(w, r, http.StatusOK, "", src, incidentForm{Severity: "high"})
}

func (s *Server) renderIncidentNew(w http.ResponseWriter, r *http.Request, status int, msg, src string, f incidentForm) error {
	page := incidentNewPage{Page: s.page(w, r, "Open an incident"), Source: src, Categories: s.dataCategories(), Form: f,
		Severities: []string{"low", "medium", "high", "critical"}}
	page.Error = msg
	return s.renderStatus(w, status, "incident_new", page)
}

// dataCategories are the categories of personal data of the inventory,
// which an incident names as involved.
func (s *Server) dataCategories() []string { return privacy.CategoryNames(s.profile) }

// formTimeLayout is the datetime-local input's value, read as UTC.
const formTimeLayout = "2006-01-02T15:04"

// incidentOpen opens an incident from the form.
func (s *Server) incidentOpen(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := r.PostForm
	form := incidentForm{Title: f.Get("title"), Severity: f.Get("severity"), Category: f.Get("category"),
		DetectedAt: f.Get("detected_at"), DetectedReason: f.Get("detected_reason"), Data: map[string]bool{}}
	n := incident.NewIncident{Title: form.Title, Severity: form.Severity, Category: form.Category, Source: f.Get("source"),
		DetectedReason: form.DetectedReason}
	for _, c := range f["data"] {
		form.Data[c] = true
		n.DataCategories = append(n.DataCategories, c)
	}
	if v := strings.TrimSpace(form.DetectedAt); v != "" {
		t, err := time.Parse(formTimeLayout, v)
		if err != nil {
			return s.renderIncidentNew(w, r, http.StatusBadRequest, "Give the detection time as a date and a time (UTC).", n.Source, form)
		}
		n.DetectedAt = t
	}
	inc, err := s.incidents.Open(ctx, n, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		if msg := formError(err); msg != "" {
			return s.renderIncidentNew(w, r, formStatus(err), msg, n.Source, form)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+inc.ID+"?done=incident-open", http.StatusSeeOther)
	return nil
}

type checkItem struct {
	incident.Item
	By string // who ticked it; "" while not done
}

type incidentPage struct {
	Page
	Incident  incident.Incident
	Clocks    []incident.Clock
	Checklist []checkItem
	Done      bool // every item of the current phase is ticked
	Next      string
	Timeline  []audit.ExportLine
	CanManage bool
	Closed    bool
	Drill     bool // an exercise: its affected set is the staff
	// Regimes are the laws of the profile's incident.regimes: each one's
	// notices, clock and report content (MTL-5.1.1).
	Regimes []incident.RegimeStatus
	Notices []incident.Notice
	// ContainActions are the bulk actions on the affected accounts.
	ContainActions []containAction
}

type containAction struct{ Code, Text string }

var containActions = []containAction{
	{incident.ContainEndSessions, "End their sessions and API tokens"},
	{incident.ContainForcePassword, "Make them change their password"},
	{incident.ContainLock, "Lock their accounts"},
}

// incidentPage shows one incident: its clocks, the current phase's
// checklist, the affected customers, containment, the breach decision and
// the timeline.
func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderIncident(w, r, http.StatusOK, "")
}

func (s *Server) renderIncident(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	ctx := r.Context()
	inc, err := s.incidents.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	clocks, err := s.incidents.ClocksNow(ctx, inc)
	if err != nil {
		return err
	}
	page := incidentPage{Page: s.page(w, r, "Incident: "+inc.Title), Incident: inc, Clocks: clocks,
		CanManage: access.Allowed(access.PrincipalFrom(ctx), access.IncidentManage), Closed: inc.Phase == incident.PhaseClosed,
		ContainActions: containActions}
	page.Error = msg
	if page.Notices, err = s.incidents.Notices(ctx, inc.ID); err != nil {
		return err
	}
	if page.Drill, err = s.incidents.IsExercise(ctx, inc.ID); err != nil {
		return err
	}
	entry, err := s.incidents.Entry(ctx, inc.ID) // the record with its assessment, for the reports' content
	if err != nil {
		return err
	}
	page.Regimes = s.incidents.Regimes(entry, s.db.Now())
	items, done, err := s.incidents.Checklist(ctx, inc.ID, inc.Phase)
	if err != nil {
		return err
	}
	page.Done = true
	for _, it := range items {
		page.Checklist = append(page.Checklist, checkItem{it, done[it.Code]})
		if done[it.Code] == "" {
			page.Done = false
		}
	}
	page.Next = incident.Next(inc.Phase)
	if page.Timeline, err = s.incidents.Timeline(ctx, inc.ID); err != nil {
		return err
	}
	return s.renderStatus(w, status, "incident", page)
}

// incidentAction carries out one of the security team's actions on an
// incident, named by the last segment of the path.
func (s *Server) incidentAction(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	by := access.PrincipalFrom(ctx).AccountID
	id := r.PathValue("id")
	f := r.PostForm
	action := path.Base(r.Pattern)
	done := action
	var err error
	switch action {
	case "check":
		err = s.incidents.Check(ctx, id, f.Get("item"), by)
	case "advance":
		_, err = s.incidents.Advance(ctx, id, by)
	case "affected":
		q := incident.Query{Kind: f.Get("kind"), Alert: strings.TrimSpace(f.Get("alert")), Network: strings.TrimSpace(f.Get("network"))}
		if q.Kind == "network" || q.Kind == "session" {
			from, err1 := time.Parse(formTimeLayout, f.Get("from"))
			to, err2 := time.Parse(formTimeLayout, f.Get("to"))
			if err1 != nil || err2 != nil {
				return s.renderIncident(w, r, http.StatusBadRequest, "Give the window's start and end as dates and times (UTC).")
			}
			q.From, q.To = from, to
		}
		_, err = s.incidents.SetAffected(ctx, id, q)
	case "contain":
		_, err = s.incidents.Contain(ctx, s.identity.Responder(), id, f.Get("action"), by)
		done = "contain-" + f.Get("action")
	case "decision":
		err = s.incidents.Decide(ctx, id, incident.Decision{PersonalData: f.Get("personal") == "yes", Risk: f.Get("risk") == "yes",
			HighRisk: f.Get("high_risk") == "yes", Reasoning: f.Get("reasoning")}, by)
	case "awareness":
		at, perr := time.Parse(formTimeLayout, f.Get("aware_at"))
		if perr != nil {
			return s.renderIncident(w, r, http.StatusBadRequest, "Give the time of awareness as a date and a time (UTC).")
		}
		err = s.incidents.SetAwareness(ctx, id, at, f.Get("aware_reason"), by)
	default:
		return apperr.New(apperr.NotFound, "There is no such page.")
	}
	if err != nil {
		if msg := formError(err); msg != "" && !errorIsNoIncident(err) {
			return s.renderIncident(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+id+"?done=incident-"+done, http.StatusSeeOther)
	return nil
}

func errorIsNoIncident(err error) bool { return errors.Is(err, incident.ErrNoIncident) }
