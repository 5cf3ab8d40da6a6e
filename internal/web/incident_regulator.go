package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/incident"
)

// incidentRegulatorRoutes are the regulator's report of an incident
// (MTL-5.1.1, GDPR Art. 33): the draft with its missing parts and the
// submissions for whoever reads incidents (the security team, auditors);
// the assessment and the submissions recorded by the security team; the
// PDF and JSON exports, each audited.
func (s *Server) incidentRegulatorRoutes() []route {
	if s.incidents == nil {
		return nil
	}
	return []route{
		{"GET /security/incidents/{id}/regulator", access.IncidentRead, s.regulatorPage},
		{"POST /security/incidents/{id}/assessment", access.IncidentManage, s.assessmentSave},
		{"POST /security/incidents/{id}/submissions", access.IncidentManage, s.submissionRecord},
		{"GET /security/incidents/{id}/regulator.pdf", access.IncidentRead, s.regulatorExport},
		{"GET /security/incidents/{id}/regulator.json", access.IncidentRead, s.regulatorExport},
	}
}

// assessmentForm is the assessment as the form shows it.
type assessmentForm struct {
	Nature, Consequences, Measures, ContactPoint, Records string
}

// submissionForm is a submission as the form shows it.
type submissionForm struct {
	Kind, Authority, Reference, At, LateReason string
}

type regulatorReportPage struct {
	Page
	Report  incident.RegulatorReport
	Missing []string
	Clock   incident.Clock // the regulator's
	Initial bool           // the initial submission is recorded
	Manage  bool           // the viewer may record the assessment and submissions
	Open    bool           // the incident is open: its assessment may change
	// The headings of the Art. 33(3) parts, as in the PDF.
	Headings [4]string
	// The figures, written out ("" while unknown), and the containment.
	Subjects, Records string
	Containment       []containmentRow
	Assessment        assessmentForm
	Submission        submissionForm
}

// containmentRow is one containment action as the page says it.
type containmentRow struct {
	incident.ContainmentAction
	Text string
}

// submissionTime is the submission form's time: a datetime-local in UTC.
const submissionTime = "2006-01-02T15:04"

// regulatorPage shows the regulator's report as it would be exported,
// what it still lacks, the submissions so far, and to the security team
// the forms for the assessment and a submission.
//
// Enforces MTL-5.1.1: the report carries the parts Art. 33(3) asks for,
// names those missing, and lists its phased submissions.
func (s *Server) regulatorPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderRegulator(w, r, http.StatusOK, nil, nil, nil)
}

// renderRegulator renders the page, with the form just refused (and its
// error) when there is one.
func (s *Server) renderRegulator(w http.ResponseWriter, r *http.Request, status int, formErr error, af *assessmentForm, sf *submissionForm) error {
	ctx := r.Context()
	id := r.PathValue("id")
	inc, err := s.incidents.Get(ctx, id)
	if err != nil {
		return err
	}
	rep, err := s.incidents.RegulatorReport(ctx, id)
	if err != nil {
		return err
	}
	page := regulatorReportPage{Page: s.page(w, r, "Regulator's report: "+inc.Title), Report: rep, Missing: rep.Missing(),
		Manage: access.Allowed(access.PrincipalFrom(ctx), access.IncidentManage), Open: inc.ClosedAt.IsZero(),
		Headings: [4]string{incident.HeadingNature, incident.HeadingContactPoint, incident.HeadingConsequences, incident.HeadingMeasures}}
	page.Clock = s.incidents.Clocks(inc, time.Time{}, s.db.Now())[1]
	_, page.Initial = rep.Initial()
	if rep.SubjectsApprox != nil {
		page.Subjects = incident.FormatCount(int64(*rep.SubjectsApprox))
	}
	if rep.RecordsApprox != nil {
		page.Records = incident.FormatCount(*rep.RecordsApprox)
	}
	for _, c := range rep.Containment {
		page.Containment = append(page.Containment, containmentRow{c, incident.ContainText(c.Action)})
	}
	if af != nil {
		page.Assessment = *af
	} else {
		page.Assessment = assessmentForm{Nature: rep.Nature, Consequences: rep.Consequences, Measures: rep.Measures, ContactPoint: rep.ContactPoint}
		if rep.RecordsApprox != nil {
			page.Assessment.Records = strconv.FormatInt(*rep.RecordsApprox, 10)
		}
	}
	if sf != nil {
		page.Submission = *sf
	} else {
		page.Submission.Kind = incident.SubmissionInitial
		if page.Initial {
			page.Submission.Kind = incident.SubmissionFollowUp
		}
	}
	if formErr != nil {
		page.formProblems(formErr, "nature", "consequences", "measures", "records_approx", "contact_point",
			"kind=kind-"+page.Submission.Kind, "authority", "reference", "at", "late_reason")
	}
	return s.renderStatus(w, status, "incident_regulator", page)
}

// assessmentSave records the incident's assessment (the parts of the
// report that Art. 33(3) asks for beyond the incident's record).
func (s *Server) assessmentSave(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	f := r.PostForm
	form := assessmentForm{Nature: f.Get("nature"), Consequences: f.Get("consequences"), Measures: f.Get("measures"),
		ContactPoint: f.Get("contact_point"), Records: strings.TrimSpace(f.Get("records_approx"))}
	a := incident.Assessment{Nature: form.Nature, Consequences: form.Consequences, Measures: form.Measures, ContactPoint: form.ContactPoint}
	err := error(nil)
	if form.Records != "" {
		// "12,000" and "12 000" are read as 12000.
		n, perr := strconv.ParseInt(strings.NewReplacer(",", "", " ", "", "_", "").Replace(form.Records), 10, 64)
		if perr != nil {
			msg := "Give the number of records as a whole number, or leave it empty while it is not estimated."
			err = apperr.FieldErrors(msg, map[string]string{"records_approx": msg})
		}
		a.RecordsApprox = &n
	}
	if err == nil {
		err = s.incidents.SetAssessment(ctx, id, a, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderRegulator(w, r, formStatus(err), err, &form, nil)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+id+"/regulator?done=assessment-saved", http.StatusSeeOther)
	return nil
}

// submissionRecord records a submission of the report to the authority,
// initial or follow-up, with a snapshot of the report as it stands.
func (s *Server) submissionRecord(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	f := r.PostForm
	form := submissionForm{Kind: f.Get("kind"), Authority: f.Get("authority"), Reference: f.Get("reference"),
		At: strings.TrimSpace(f.Get("at")), LateReason: f.Get("late_reason")}
	sub := incident.Submission{Kind: form.Kind, Authority: form.Authority, Reference: form.Reference, LateReason: form.LateReason}
	err := error(nil)
	if form.Kind == "" {
		msg := "Say whether this is the initial report or a follow-up."
		err = apperr.FieldErrors(msg, map[string]string{"kind": msg})
		form.Kind = incident.SubmissionInitial
	}
	if err == nil && form.At != "" {
		at, perr := time.Parse(submissionTime, form.At)
		if perr != nil {
			msg := "Give the time of the submission as a date and a time in UTC, or leave it empty for now."
			err = apperr.FieldErrors(msg, map[string]string{"at": msg})
		}
		sub.At = at
	}
	if err == nil {
		err = s.incidents.RecordSubmission(ctx, id, sub, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if msg := formError(err); msg != "" && apperr.CodeOf(err) != apperr.NotFound {
			if form.Kind != incident.SubmissionFollowUp {
				form.Kind = incident.SubmissionInitial
			}
			return s.renderRegulator(w, r, formStatus(err), err, nil, &form)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+id+"/regulator?done=submission-recorded", http.StatusSeeOther)
	return nil
}

// regulatorExport downloads the report as PDF or JSON, a draft marked as
// one. Each export is audited before the report leaves.
//
// Enforces MTL-5.1.1: the report goes to the authority as a document
// drafted from the record, and who took a copy is on the record.
func (s *Server) regulatorExport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	rep, err := s.incidents.RegulatorReport(ctx, id)
	if err != nil {
		return err
	}
	format, contentType := "json", "application/json"
	var body []byte
	if strings.HasSuffix(r.Pattern, ".pdf") {
		format, contentType = "pdf", "application/pdf"
		body, err = rep.PDF()
	} else {
		body, err = rep.JSON()
	}
	if err != nil {
		return err
	}
	if err := s.record(ctx, "incident.report_export", "incident:"+id, map[string]any{
		"report": "regulator", "format": format, "draft": len(rep.Missing()) > 0}); err != nil {
		return err
	}
	name := "portico-incident-" + rep.IncidentID + "-regulator-" + rep.GeneratedAt.UTC().Format("20060102-150405") + "." + format
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, err = w.Write(body)
	return err
}
