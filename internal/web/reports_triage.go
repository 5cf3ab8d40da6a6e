package web

import (
	"net/http"
	"path"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/detect"
)

// reportRoutes are the security team's queue of suspicious-activity
// reports, and the customer's page for one of their own reports (CP-7.3,
// CP-3.2, CP-3.1). Every action is checked again in internal/detect: a
// customer reaches only their own report.
func (s *Server) reportRoutes() []route {
	if s.detect == nil {
		return nil
	}
	return []route{
		{"GET /security/reports", access.IncidentManage, s.reportsPage},
		{"GET /security/reports/{id}", access.IncidentManage, s.reportPage},
		{"POST /security/reports/{id}/assign", access.IncidentManage, s.reportAction},
		{"POST /security/reports/{id}/note", access.IncidentManage, s.reportAction},
		{"POST /security/reports/{id}/ask", access.IncidentManage, s.reportAction},
		{"POST /security/reports/{id}/escalate", access.IncidentManage, s.reportAction},
		{"POST /security/reports/{id}/close", access.IncidentManage, s.reportAction},
		{"GET /account/reports/{id}", access.AccountSelf, s.ownReportPage},
		{"POST /account/reports/{id}/answer", access.AccountSelf, s.ownReportAnswer},
	}
}

// reportStates are the queue's filters.
var reportStates = map[string][]string{
	"open":      {detect.ReportOpen, detect.ReportWaiting, detect.ReportEscalated},
	"waiting":   {detect.ReportWaiting},
	"escalated": {detect.ReportEscalated},
	"closed":    {detect.ReportClosed},
}

type reportsPage struct {
	Page
	Reports []detect.Report
	State   string
	Counts  map[string]int
}

// reportsPage lists the reports, those waiting longest first.
//
// Enforces CP-7.3, CP-3.2: every report a customer files, or support files
// for them, is in the security team's queue until it is closed.
func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	states, ok := reportStates[state]
	if !ok {
		return apperr.New(apperr.Invalid, "Choose open, waiting, escalated or closed reports.")
	}
	reports, err := s.detect.Reports(ctx, detect.ReportFilter{States: states})
	if err != nil {
		return err
	}
	counts, err := s.detect.ReportCounts(ctx)
	if err != nil {
		return err
	}
	return s.render(w, "security_reports", reportsPage{Page: s.page(w, r, "Suspicious-activity reports"), Reports: reports, State: state, Counts: counts})
}

// outcomeChoice is one outcome in the closing form.
type outcomeChoice struct{ Code, Text string }

type triageReportPage struct {
	Page
	Report   detect.Report
	Mine     bool // assigned to the viewer
	Outcomes []outcomeChoice
}

// reportPage shows one report to the security team: what the customer
// said, the thread with the internal notes, and the actions.
func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderReport(w, r, http.StatusOK, "")
}

func (s *Server) renderReport(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	ctx := r.Context()
	rep, err := s.detect.Report(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	page := triageReportPage{Page: s.page(w, r, "Suspicious-activity report"), Report: rep,
		Mine: rep.AssignedTo == access.PrincipalFrom(ctx).AccountID}
	page.Error = errMsg
	for _, code := range detect.OutcomeCodes {
		page.Outcomes = append(page.Outcomes, outcomeChoice{code, detect.Outcomes[code]})
	}
	return s.renderStatus(w, status, "security_report", page)
}

// reportAction carries out one of the security team's actions on a
// report, named by the last segment of the path.
func (s *Server) reportAction(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	by := access.PrincipalFrom(ctx).AccountID
	id := r.PathValue("id")
	f := r.PostForm
	var err error
	action := path.Base(r.Pattern) // the route names the action
	switch action {
	case "assign":
		err = s.detect.AssignReport(ctx, id, by) // whoever takes it has it
	case "note":
		err = s.detect.NoteReport(ctx, id, f.Get("body"), by)
	case "ask":
		err = s.detect.AskCustomer(ctx, id, f.Get("body"), by)
	case "escalate":
		err = s.detect.EscalateReport(ctx, id, f.Get("incident"))
	case "close":
		err = s.detect.CloseReport(ctx, id, f.Get("outcome"), f.Get("message"), by)
	default:
		return apperr.New(apperr.NotFound, "There is no such page.")
	}
	if err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderReport(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/security/reports/"+id+"?done=report-"+action, http.StatusSeeOther)
	return nil
}

type ownReportPage struct {
	Page
	Report detect.Report
}

// ownReportPage shows a customer one of their own reports: what they told
// us, the security team's questions with a form to answer, and the
// outcome. Another account's report is not found.
//
// Enforces CP-7.3, CP-3.1: the customer follows their report in the portal.
func (s *Server) ownReportPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderOwnReport(w, r, http.StatusOK, "")
}

func (s *Server) renderOwnReport(w http.ResponseWriter, r *http.Request, status int, errMsg string) error {
	ctx := r.Context()
	rep, err := s.detect.CustomerReport(ctx, access.PrincipalFrom(ctx).AccountID, r.PathValue("id"))
	if err != nil {
		return err
	}
	page := ownReportPage{Page: s.page(w, r, "Your report"), Report: rep}
	page.Error = errMsg
	return s.renderStatus(w, status, "account_report", page)
}

// ownReportAnswer records the customer's answer to the security team's
// question.
func (s *Server) ownReportAnswer(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if err := s.detect.AnswerReport(ctx, access.PrincipalFrom(ctx).AccountID, id, r.PostForm.Get("answer")); err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderOwnReport(w, r, formStatus(err), msg)
		}
		return err
	}
	http.Redirect(w, r, "/account/reports/"+id+"?done=report-answered", http.StatusSeeOther)
	return nil
}
