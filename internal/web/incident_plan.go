package web

import (
	"html/template"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/incident"
)

// incidentPlanRoutes are the response plan's versions, its exercises and
// the post-incident reviews (MTL-5.2.1, MTL-5.2.2, CP-7.2). Auditors
// (IncidentRead) read every page; only the security team
// (IncidentManage) writes, and internal/incident checks again who may
// approve a version.
func (s *Server) incidentPlanRoutes() []route {
	if s.incidents == nil {
		return nil
	}
	return []route{
		{"GET /security/plan", access.IncidentRead, s.planPage},
		{"POST /security/plan", access.IncidentManage, s.planDraft},
		{"POST /security/plan/{version}/approve", access.IncidentManage, s.planApprove},
		{"GET /security/exercises", access.IncidentRead, s.exercisesPage},
		{"POST /security/exercises", access.IncidentManage, s.exerciseRecord},
		{"POST /security/exercises/{id}/findings", access.IncidentManage, s.findingAdd},
		{"POST /security/drills", access.IncidentManage, s.drillStart},
		{"GET /security/incidents/{id}/review", access.IncidentRead, s.reviewPage},
		{"POST /security/incidents/{id}/review", access.IncidentManage, s.reviewSave},
		{"GET /security/incidents/{id}/export", access.IncidentRead, s.incidentExport},
	}
}

// The confirmations of these pages, kept here so that the file stands on
// its own; they join the fixed list of flashes.
func init() {
	maps.Copy(flashes, map[string]string{
		"plan-drafted":      "The draft is saved. Another member of the security team must approve it before it is in force.",
		"plan-approved":     "The version is approved and in force: incidents opened from now follow it; open ones keep the version they started with.",
		"exercise-recorded": "The exercise is recorded. The next one is due as shown.",
		"finding-added":     "The finding is filed in the findings register with the exercise as its source.",
		"drill-started":     "The drill is running as an incident marked as an exercise: its notices go only to staff test accounts.",
		"review-saved":      "The review is saved and recorded in the incident's timeline.",
	})
}

type planPage struct {
	Page
	Versions []incident.PlanDoc
	// Shown is the version on the page (?version=N, else the one in
	// force, else the newest draft); Builtin when none exists and the
	// built-in plan is shown.
	Shown         incident.PlanDoc
	Builtin       bool
	Body          template.HTML
	InForce       *incident.PlanDoc
	ReviewOverdue bool
	CanManage     bool
	Me            string
	Team          []incident.StaffMember
	Draft, Owner  string
}

// planPage shows the plan: its versions, the one in force with its review
// date, a version's text, and (to the security team) the draft form.
//
// Enforces MTL-5.2.1: the plan in force, its approver and its review date
// are on one page, readable by auditors.
func (s *Server) planPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderPlan(w, r, http.StatusOK, nil, "", "")
}

func (s *Server) renderPlan(w http.ResponseWriter, r *http.Request, status int, formErr error, draft, owner string) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	versions, err := s.incidents.PlanVersions(ctx)
	if err != nil {
		return err
	}
	page := planPage{Page: s.page(w, r, "Incident response plan"), Versions: versions, CanManage: access.Allowed(p, access.IncidentManage),
		Me: p.AccountID, Draft: draft, Owner: owner}
	for i := range versions {
		if versions[i].InForce {
			page.InForce = &versions[i]
			page.ReviewOverdue = s.db.Now().After(versions[i].ReviewDue)
		}
	}
	switch v := r.URL.Query().Get("version"); {
	case v != "":
		n, err := strconv.Atoi(v)
		if err != nil {
			return incident.ErrNoPlanVersion
		}
		if page.Shown, err = s.incidents.PlanDoc(ctx, n); err != nil {
			return err
		}
	case page.InForce != nil:
		page.Shown = *page.InForce
	case len(versions) > 0:
		page.Shown = versions[0]
	default:
		page.Builtin = true
		page.Shown.Body = incident.BuiltinPlanMarkdown()
	}
	page.Body = incident.RenderMarkdown(page.Shown.Body)
	if page.CanManage {
		if page.Team, err = s.incidents.Staff(ctx); err != nil {
			return err
		}
		page.Team = securityOnly(page.Team)
		if page.Draft == "" {
			page.Draft = incident.BuiltinPlanMarkdown()
			if page.InForce != nil {
				page.Draft = page.InForce.Body
			} else if len(versions) > 0 {
				page.Draft = versions[0].Body
			}
		}
		if page.Owner == "" {
			page.Owner = p.AccountID
			if page.InForce != nil {
				page.Owner = page.InForce.Owner
			}
		}
	}
	if formErr != nil {
		page.formProblems(formErr, "body", "owner")
	}
	return s.renderStatus(w, status, "incident_plan", page)
}

func securityOnly(staff []incident.StaffMember) []incident.StaffMember {
	var out []incident.StaffMember
	for _, m := range staff {
		if m.Role == string(access.RoleSecurity) {
			out = append(out, m)
		}
	}
	return out
}

// planDraft saves pasted Markdown as a new draft version.
func (s *Server) planDraft(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	body, owner := r.PostForm.Get("body"), r.PostForm.Get("owner")
	doc, err := s.incidents.DraftPlan(ctx, body, owner, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		if formError(err) != "" {
			return s.renderPlan(w, r, formStatus(err), err, body, owner)
		}
		return err
	}
	http.Redirect(w, r, "/security/plan?version="+strconv.Itoa(doc.Version)+"&done=plan-drafted", http.StatusSeeOther)
	return nil
}

// planApprove approves a draft; internal/incident refuses its author
// (four eyes).
func (s *Server) planApprove(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		return incident.ErrNoPlanVersion
	}
	if _, err := s.incidents.ApprovePlan(ctx, n, access.PrincipalFrom(ctx).AccountID); err != nil {
		if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderPlan(w, r, formStatus(err), err, "", "")
		}
		return err
	}
	http.Redirect(w, r, "/security/plan?done=plan-approved", http.StatusSeeOther)
	return nil
}

type exerciseRow struct {
	incident.Exercise
	Times []incident.PhaseTime
	// Found are the exercise's findings in the register, with their due
	// dates in words.
	Found []findingRow
}

type exercisesPage struct {
	Page
	Exercises []exerciseRow
	NextDue   time.Time
	Overdue   bool
	Now       time.Time
	Today     string
	CanManage bool
	Staff     []incident.StaffMember
	// Form holds what was sent when it is shown again with an error.
	Form formValues
	// FindingRows index the record form's finding rows.
	FindingRows []int
	Severities  []string
}

// formValues is a submitted form's values, for the templates.
type formValues map[string][]string

// Get is the first value of key.
func (u formValues) Get(key string) string {
	if v := u[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// At is the i-th value of key.
func (u formValues) At(key string, i int) string {
	if v := u[key]; i < len(v) {
		return v[i]
	}
	return ""
}

// Has reports whether v is one of key's values.
func (u formValues) Has(key, v string) bool {
	for _, x := range u[key] {
		if x == v {
			return true
		}
	}
	return false
}

// findingRows is how many findings the record form offers.
var findingRows = []int{0, 1, 2}

// exercisesPage lists the exercises, when the next is due, the findings
// with their state, and (to the security team) the forms to record an
// exercise and start a drill.
//
// Enforces MTL-5.2.2: the exercises, their findings to closure and the
// next one's due date are on one page, readable by auditors.
func (s *Server) exercisesPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderExercises(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderExercises(w http.ResponseWriter, r *http.Request, status int, formErr error, form formValues) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	all, err := s.incidents.Exercises(ctx)
	if err != nil {
		return err
	}
	now := s.db.Now()
	page := exercisesPage{Page: s.page(w, r, "Exercises of the response plan"), Now: now, Today: now.UTC().Format("2006-01-02"),
		CanManage: access.Allowed(p, access.IncidentManage), Form: form, FindingRows: findingRows, Severities: findings.Severities}
	if page.Form == nil {
		page.Form = formValues{"kind": {incident.ExerciseTabletop}, "held": {page.Today}, "participant": {p.AccountID}}
	}
	for _, e := range all {
		row := exerciseRow{Exercise: e}
		for _, f := range e.Findings {
			row.Found = append(row.Found, rowOf(f, now))
		}
		if e.IncidentID != "" {
			if row.Times, err = s.incidents.DrillTimes(ctx, e.ID); err != nil {
				return err
			}
		}
		page.Exercises = append(page.Exercises, row)
	}
	if page.NextDue, err = s.incidents.NextExerciseDue(ctx); err != nil {
		return err
	}
	if page.Overdue, err = s.incidents.Overdue(ctx, now); err != nil {
		return err
	}
	if page.CanManage {
		if page.Staff, err = s.incidents.Staff(ctx); err != nil {
			return err
		}
	}
	if formErr != nil {
		page.Error = formError(formErr)
	}
	return s.renderStatus(w, status, "incident_exercises", page)
}

// exerciseRecord records a tabletop exercise or a drill held, with up to
// three findings filed in the findings register (the empty rows are left
// out; a row without a due date is due at its severity's deadline).
func (s *Server) exerciseRecord(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	e := incident.Exercise{Kind: f.Get("kind"), Scenario: f.Get("scenario"), Participants: f["participant"]}
	var found []incident.Finding
	var err error
	if e.HeldAt, err = parseDate(f.Get("held")); err == nil {
		for i := range findingRows {
			if strings.TrimSpace(f.At("finding", i)) == "" {
				continue
			}
			var due time.Time
			if due, err = agreedDate(f.At("finding_due", i)); err != nil {
				break
			}
			found = append(found, incident.Finding{Text: f.At("finding", i), Severity: f.At("finding_severity", i),
				Owner: f.At("finding_owner", i), Due: due})
		}
	}
	if err == nil {
		_, err = s.incidents.RecordExercise(ctx, e, found, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if formError(err) != "" {
			return s.renderExercises(w, r, formStatus(err), err, f)
		}
		return err
	}
	http.Redirect(w, r, "/security/exercises?done=exercise-recorded", http.StatusSeeOther)
	return nil
}

// dueDate reads a due date: the end of that day, UTC.
func dueDate(v string) (time.Time, error) {
	t, err := parseDate(v)
	if err != nil {
		return t, apperr.New(apperr.Invalid, "Give each finding and action a due date as YYYY-MM-DD.")
	}
	return t.Add(24*time.Hour - time.Second), nil
}

// agreedDate reads an exercise finding's optional due date: zero when
// none is given (its severity's deadline), else the end of that day, UTC.
func agreedDate(v string) (time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return time.Time{}, nil
	}
	return dueDate(v)
}

// findingAdd files a finding of an exercise (a drill's, once it has run)
// in the findings register; it is worked on and closed from its page
// there (/findings/{id}).
func (s *Server) findingAdd(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	due, err := agreedDate(f.Get("due"))
	if err == nil {
		_, err = s.incidents.AddFinding(ctx, r.PathValue("id"), incident.Finding{Text: f.Get("finding"), Severity: f.Get("severity"),
			Owner: f.Get("owner"), Due: due}, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderExercises(w, r, formStatus(err), err, nil)
		}
		return err
	}
	http.Redirect(w, r, "/security/exercises?done=finding-added", http.StatusSeeOther)
	return nil
}

// drillStart opens a drill's incident and goes to its page.
func (s *Server) drillStart(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	inc, err := s.incidents.StartDrill(ctx, r.PostForm.Get("scenario"), access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		if formError(err) != "" {
			return s.renderExercises(w, r, formStatus(err), err, nil)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+inc.ID+"?done=drill-started", http.StatusSeeOther)
	return nil
}

type reviewPage struct {
	Page
	Incident  incident.Incident
	Exercise  bool
	Review    incident.Review
	Written   bool
	Summary   template.HTML
	Worked    template.HTML
	Failed    template.HTML
	CanManage bool
	// CanWrite: the incident has recovered (or is closed).
	CanWrite bool
	Staff    []incident.StaffMember
	// Rows are the action rows of the form: the review's and two empty.
	Rows []incident.Action
	Now  time.Time
}

// reviewPage shows an incident's post-incident review and, to the
// security team once the incident has recovered, the form to write it.
//
// Enforces CP-7.2: every incident's review, with its actions, is kept
// with the incident.
func (s *Server) reviewPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderReview(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderReview(w http.ResponseWriter, r *http.Request, status int, formErr error, sent *incident.Review) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	id := r.PathValue("id")
	inc, err := s.incidents.Get(ctx, id)
	if err != nil {
		return err
	}
	rev, written, err := s.incidents.Review(ctx, id)
	if err != nil {
		return err
	}
	ex, err := s.incidents.IsExercise(ctx, id)
	if err != nil {
		return err
	}
	page := reviewPage{Page: s.page(w, r, "Post-incident review"), Incident: inc, Exercise: ex, Review: rev, Written: written,
		Summary: incident.RenderMarkdown(rev.Summary), Worked: incident.RenderMarkdown(rev.Worked), Failed: incident.RenderMarkdown(rev.Failed),
		CanManage: access.Allowed(p, access.IncidentManage), Now: s.db.Now(),
		CanWrite: inc.Phase == incident.PhaseRecovered || inc.Phase == incident.PhaseClosed}
	if page.CanManage && page.CanWrite {
		if page.Staff, err = s.incidents.Staff(ctx); err != nil {
			return err
		}
		form := rev
		if sent != nil {
			form = *sent
		}
		page.Review.Summary, page.Review.Worked, page.Review.Failed = form.Summary, form.Worked, form.Failed
		page.Rows = append(append([]incident.Action(nil), form.Actions...), incident.Action{}, incident.Action{})
	}
	if formErr != nil {
		page.Error = formError(formErr)
	}
	return s.renderStatus(w, status, "incident_review", page)
}

// reviewSave writes the review from the form: the rows with words are
// the actions, those whose box is ticked done.
func (s *Server) reviewSave(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	rev := incident.Review{Summary: f.Get("summary"), Worked: f.Get("worked"), Failed: f.Get("failed")}
	var err error
	for i := range f["action"] {
		if strings.TrimSpace(f.At("action", i)) == "" {
			continue
		}
		var due time.Time
		if due, err = dueDate(f.At("action_due", i)); err != nil {
			break
		}
		rev.Actions = append(rev.Actions, incident.Action{Text: f.At("action", i), Owner: f.At("action_owner", i), Due: due,
			Done: f.Has("action_done", strconv.Itoa(i))})
	}
	if err == nil {
		err = s.incidents.SaveReview(ctx, r.PathValue("id"), rev, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderReview(w, r, formStatus(err), err, &rev)
		}
		return err
	}
	http.Redirect(w, r, "/security/incidents/"+r.PathValue("id")+"/review?done=review-saved", http.StatusSeeOther)
	return nil
}

// incidentExport downloads the incident's record as Markdown.
//
// Enforces CP-7.2: the incident's facts, timeline, checklists and review
// leave Portico as one document.
func (s *Server) incidentExport(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	md, err := s.incidents.Export(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="portico-incident-`+id+`.md"`)
	_, err = w.Write(md)
	return err
}
