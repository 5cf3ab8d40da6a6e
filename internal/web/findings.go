package web

import (
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/markdown"
	"github.com/portico/portico/internal/vulncheck"
)

// findingRoutes are the findings register, the assessments, the
// dependency inventory and the public vulnerability disclosure intake
// (CP-6.2, MTL-4.1.2, MTL-4.3.1, MTL-4.3.2). Security, administrators and
// auditors read (GovernanceRead); the security team writes
// (FindingManage); anyone may report a vulnerability.
func (s *Server) findingRoutes() []route {
	if s.findings == nil {
		return nil
	}
	return []route{
		{"GET /.well-known/security.txt", access.Public, s.securityTxt},
		{"GET /security/report", access.Public, s.disclosureForm},
		{"POST /security/report", access.Public, s.disclosure},
		{"GET /findings", access.GovernanceRead, s.findingsPage},
		{"GET /findings/new", access.FindingManage, s.findingNewForm},
		{"POST /findings", access.FindingManage, s.findingCreate},
		{"GET /findings/{id}", access.GovernanceRead, s.findingPage},
		{"POST /findings/{id}", access.FindingManage, s.findingEdit},
		{"POST /findings/{id}/{action}", access.FindingManage, s.findingTransition},
		{"GET /assessments", access.GovernanceRead, s.assessmentsPage},
		{"GET /assessments/new", access.FindingManage, s.assessmentNewForm},
		{"POST /assessments", access.FindingManage, s.assessmentRecord},
		{"GET /assessments/{id}", access.GovernanceRead, s.assessmentPage},
		{"GET /admin/inventory", access.GovernanceRead, s.inventoryPage},
	}
}

func init() {
	maps.Copy(flashes, map[string]string{
		"finding-filed":       "The finding is filed. Its remediation date follows its severity.",
		"finding-updated":     "The finding is updated; a new severity moved its due date.",
		"finding-started":     "The finding is in progress.",
		"finding-resolved":    "The finding is resolved; the evidence is kept with it.",
		"finding-accepted":    "The risk is accepted until the date given; the finding opens again then.",
		"finding-reopened":    "The finding is open again.",
		"assessment-recorded": "The assessment is recorded. File its findings from its page.",
	})
}

// findingRow is a finding in a list, with its due date in words.
type findingRow struct {
	findings.Finding
	Overdue  bool
	DueWords string
}

func rowOf(f findings.Finding, now time.Time) findingRow {
	r := findingRow{Finding: f, Overdue: f.OverdueAt(now)}
	switch {
	case f.Closed():
		r.DueWords = findings.StatusName(f.Status) + " " + f.ClosedAt.UTC().Format("2 Jan 2006")
	case r.Overdue:
		r.DueWords = "overdue by " + humanDuration(now.Sub(f.DueAt))
	default:
		r.DueWords = "due in " + humanDuration(f.DueAt.Sub(now))
	}
	return r
}

type findingsPage struct {
	Page
	Findings   []findingRow
	Filter     findings.Filter
	Severities []string
	Sources    []string
	CanManage  bool
}

// findingsPage lists the register with filters (open, overdue, severity,
// source), each finding's due date in words.
//
// Enforces MTL-4.3.2: findings are tracked to closure, their deadlines in
// view.
func (s *Server) findingsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := findings.Filter{Open: q.Get("open") != "", Overdue: q.Get("overdue") != ""}
	if v := q.Get("severity"); slices.Contains(findings.Severities, v) {
		f.Severity = v
	}
	if v := q.Get("source"); slices.Contains(findings.Sources, v) {
		f.Source = v
	}
	list, err := s.findings.List(r.Context(), f)
	if err != nil {
		return err
	}
	now := s.db.Now()
	page := findingsPage{Page: s.page(w, r, "Findings"), Filter: f, Severities: findings.Severities, Sources: findings.Sources,
		CanManage: access.Allowed(access.PrincipalFrom(r.Context()), access.FindingManage)}
	for _, x := range list {
		page.Findings = append(page.Findings, rowOf(x, now))
	}
	return s.render(w, "findings", page)
}

type findingPage struct {
	Page
	F           findingRow
	Description template.HTML // Markdown rendered, except a disclosure's (Plain)
	Plain       string        // a disclosure's report, shown as text
	Assessment  *findings.Assessment
	// Exercise links an exercise's finding back to the exercises page,
	// for those who read it (incident.read).
	Exercise   bool
	CanManage  bool
	Me         string
	Staff      []findings.StaffMember
	Severities []string
	Today      string
	YearOn     string
}

func (s *Server) findingPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderFinding(w, r, http.StatusOK, nil)
}

func (s *Server) renderFinding(w http.ResponseWriter, r *http.Request, status int, formErr error) error {
	ctx := r.Context()
	f, err := s.findings.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	now := s.db.Now()
	p := access.PrincipalFrom(ctx)
	page := findingPage{Page: s.page(w, r, f.Title), F: rowOf(f, now), CanManage: access.Allowed(p, access.FindingManage), Me: p.AccountID,
		Severities: findings.Severities, Today: now.UTC().Format("2006-01-02"), YearOn: now.Add(365 * 24 * time.Hour).UTC().Format("2006-01-02")}
	if f.SourceKind == findings.SourceDisclosure {
		page.Plain = f.Description
	} else {
		page.Description = markdown.Render(f.Description)
	}
	page.Exercise = f.SourceKind == findings.SourceExercise && f.SourceID != "" && access.Allowed(p, access.IncidentRead)
	if f.AssessmentID != "" {
		a, err := s.findings.Assessment(ctx, f.AssessmentID)
		if err != nil {
			return err
		}
		page.Assessment = &a
	}
	if page.CanManage {
		if page.Staff, err = s.findings.Staff(ctx); err != nil {
			return err
		}
	}
	if formErr != nil {
		page.formProblems(formErr)
	}
	return s.renderStatus(w, status, "finding", page)
}

// findingEdit changes a finding's title, text, severity, component or
// owner; internal/findings moves the due date with the severity.
func (s *Server) findingEdit(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := r.PostForm
	id := r.PathValue("id")
	if _, err := s.findings.Update(ctx, id, findings.Edit{Title: f.Get("title"), Description: f.Get("description"), Severity: f.Get("severity"),
		Component: f.Get("component"), Owner: f.Get("owner")}, access.PrincipalFrom(ctx).AccountID); err != nil {
		return s.findingFormError(w, r, err)
	}
	http.Redirect(w, r, "/findings/"+id+"?done=finding-updated", http.StatusSeeOther)
	return nil
}

// findingTransition starts, resolves, accepts or reopens a finding.
func (s *Server) findingTransition(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	id, by, f := r.PathValue("id"), access.PrincipalFrom(ctx).AccountID, r.PostForm
	var err error
	var done string
	switch r.PathValue("action") {
	case "start":
		err, done = s.findings.Start(ctx, id, by), "finding-started"
	case "resolve":
		err, done = s.findings.Resolve(ctx, id, f.Get("evidence"), by), "finding-resolved"
	case "accept":
		var until time.Time
		if until, err = parseDate(f.Get("until")); err == nil {
			// Accepted through the end of that day (UTC).
			err = s.findings.Accept(ctx, id, f.Get("reason"), until.Add(24*time.Hour-time.Second), by)
		}
		done = "finding-accepted"
	case "reopen":
		err, done = s.findings.Reopen(ctx, id, f.Get("reason"), by), "finding-reopened"
	default:
		return errNotFound
	}
	if err != nil {
		return s.findingFormError(w, r, err)
	}
	http.Redirect(w, r, "/findings/"+id+"?done="+done, http.StatusSeeOther)
	return nil
}

func (s *Server) findingFormError(w http.ResponseWriter, r *http.Request, err error) error {
	if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
		return s.renderFinding(w, r, formStatus(err), err)
	}
	return err
}

type findingNewPage struct {
	Page
	Form        formValues
	Sources     []string
	Severities  []string
	Staff       []findings.StaffMember
	Assessments []findings.Assessment
}

func (s *Server) findingNewForm(w http.ResponseWriter, r *http.Request) error {
	p := access.PrincipalFrom(r.Context())
	return s.renderFindingNew(w, r, http.StatusOK, nil, formValues{"assessment": {r.URL.Query().Get("assessment")},
		"severity": {"high"}, "source": {findings.SourceOther}, "owner": {p.AccountID}})
}

func (s *Server) renderFindingNew(w http.ResponseWriter, r *http.Request, status int, formErr error, form formValues) error {
	ctx := r.Context()
	page := findingNewPage{Page: s.page(w, r, "File a finding"), Form: form, Sources: findings.Sources, Severities: findings.Severities}
	var err error
	if page.Staff, err = s.findings.Staff(ctx); err != nil {
		return err
	}
	if page.Assessments, err = s.findings.Assessments(ctx); err != nil {
		return err
	}
	if formErr != nil {
		page.formProblems(formErr)
	}
	return s.renderStatus(w, status, "finding_new", page)
}

// findingCreate files a finding by hand, or an assessment's.
func (s *Server) findingCreate(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	n, err := s.findings.Create(ctx, findings.NewFinding{SourceKind: f.Get("source"), SourceID: f.Get("source_id"), AssessmentID: f.Get("assessment"),
		Title: f.Get("title"), Description: f.Get("description"), Severity: f.Get("severity"), Component: f.Get("component"),
		Owner: f.Get("owner"), By: access.PrincipalFrom(ctx).AccountID})
	if err != nil {
		if formError(err) != "" {
			return s.renderFindingNew(w, r, formStatus(err), err, f)
		}
		return err
	}
	http.Redirect(w, r, "/findings/"+n.ID+"?done=finding-filed", http.StatusSeeOther)
	return nil
}

type assessmentRow struct {
	findings.Assessment
	KindName string
}

type assessmentsPage struct {
	Page
	Assessments []assessmentRow
	NextDue     time.Time
	Overdue     bool
	DueWords    string
	CanManage   bool
}

// assessmentsPage lists the assessments and when the next is due.
//
// Enforces CP-6.2, MTL-4.3.1: the record of assessments and the next one's
// due date, readable by auditors.
func (s *Server) assessmentsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	all, err := s.findings.Assessments(ctx)
	if err != nil {
		return err
	}
	page := assessmentsPage{Page: s.page(w, r, "Vulnerability assessments"), CanManage: access.Allowed(access.PrincipalFrom(ctx), access.FindingManage)}
	for _, a := range all {
		page.Assessments = append(page.Assessments, assessmentRow{Assessment: a, KindName: findings.KindName(a.Kind)})
	}
	if page.NextDue, err = s.findings.NextAssessmentDue(ctx); err != nil {
		return err
	}
	now := s.db.Now()
	if page.Overdue = now.After(page.NextDue); page.Overdue {
		page.DueWords = "overdue by " + humanDuration(now.Sub(page.NextDue))
	} else {
		page.DueWords = "in " + humanDuration(page.NextDue.Sub(now))
	}
	return s.render(w, "assessments", page)
}

type kindOption struct{ Value, Name string }

type assessmentNewPage struct {
	Page
	Form  formValues
	Kinds []kindOption
	Today string
}

func (s *Server) assessmentNewForm(w http.ResponseWriter, r *http.Request) error {
	return s.renderAssessmentNew(w, r, http.StatusOK, nil, formValues{"kind": {findings.AssessmentPentest}, "performed": {s.db.Now().UTC().Format("2006-01-02")}})
}

func (s *Server) renderAssessmentNew(w http.ResponseWriter, r *http.Request, status int, formErr error, form formValues) error {
	page := assessmentNewPage{Page: s.page(w, r, "Record an assessment"), Form: form, Today: s.db.Now().UTC().Format("2006-01-02")}
	for _, k := range findings.AssessmentKinds {
		page.Kinds = append(page.Kinds, kindOption{k, findings.KindName(k)})
	}
	if formErr != nil {
		page.formProblems(formErr)
	}
	return s.renderStatus(w, status, "assessment_new", page)
}

func (s *Server) assessmentRecord(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f := formValues(r.PostForm)
	a := findings.Assessment{Kind: f.Get("kind"), Scope: f.Get("scope"), PerformedBy: f.Get("performed_by"), Summary: f.Get("summary")}
	var err error
	if a.PerformedAt, err = parseDate(f.Get("performed")); err == nil {
		a, err = s.findings.RecordAssessment(ctx, a, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if formError(err) != "" {
			return s.renderAssessmentNew(w, r, formStatus(err), err, f)
		}
		return err
	}
	http.Redirect(w, r, "/assessments/"+a.ID+"?done=assessment-recorded", http.StatusSeeOther)
	return nil
}

type assessmentPage struct {
	Page
	A         assessmentRow
	Summary   template.HTML
	Findings  []findingRow
	CanManage bool
}

func (s *Server) assessmentPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, err := s.findings.Assessment(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	list, err := s.findings.List(ctx, findings.Filter{Assessment: a.ID})
	if err != nil {
		return err
	}
	page := assessmentPage{Page: s.page(w, r, findings.KindName(a.Kind)), A: assessmentRow{a, findings.KindName(a.Kind)},
		Summary: incident.RenderMarkdown(a.Summary), CanManage: access.Allowed(access.PrincipalFrom(ctx), access.FindingManage)}
	now := s.db.Now()
	for _, f := range list {
		page.Findings = append(page.Findings, rowOf(f, now))
	}
	return s.render(w, "assessment", page)
}

type inventoryPage struct {
	Page
	Inventory vulncheck.Modules
	Modules   []inventoryRow
	Last      findings.LastCheck
	HasLast   bool
	Updates   findings.LastUpdates
	HasUpdate bool
}

// inventoryRow is a module of the binary with the latest version the
// last currency check recorded for it.
type inventoryRow struct {
	vulncheck.Module
	Latest string // "" when the check recorded none for this version
	Behind string
}

// inventoryPage shows the running binary's Go version and modules, the
// last OSV check and the last currency check recorded, with each
// module's latest version if that check found it behind.
//
// Enforces MTL-4.1.2: the dependency inventory (current Go and modules)
// is shown to administrators, with the outdated ones.
func (s *Server) inventoryPage(w http.ResponseWriter, r *http.Request) error {
	page := inventoryPage{Page: s.page(w, r, "Dependency inventory")}
	m, err := vulncheck.Current()
	if err != nil {
		page.Page.Error = "This binary carries no build information: it was built without module support."
	}
	page.Inventory = m
	if page.Last, page.HasLast, err = s.findings.LastVulncheck(r.Context()); err != nil {
		return err
	}
	if page.Updates, page.HasUpdate, err = s.findings.LastCurrency(r.Context()); err != nil {
		return err
	}
	for _, d := range m.Deps {
		row := inventoryRow{Module: d}
		e := d.Effective()
		for _, o := range page.Updates.Outdated {
			if o.Path == e.Path && o.Version == e.Version {
				row.Latest, row.Behind = o.Latest, o.Behind
			}
		}
		page.Modules = append(page.Modules, row)
	}
	return s.render(w, "inventory", page)
}

// securityTxt answers /.well-known/security.txt (RFC 9116): where to
// report a vulnerability, the policy, the language, where the file lives
// and until when it holds (180 days: within the RFC's year).
//
// Enforces CP-6.2: vulnerabilities can be reported, and the way to do it
// is published where researchers look.
func (s *Server) securityTxt(w http.ResponseWriter, r *http.Request) error {
	base := s.originOf(r)
	var b strings.Builder
	b.WriteString("# Report security vulnerabilities in this Portico installation.\n")
	b.WriteString("Contact: " + base + "/security/report\n")
	b.WriteString("Expires: " + s.db.Now().Add(180*24*time.Hour).UTC().Format(time.RFC3339) + "\n")
	b.WriteString("Policy: " + base + "/security/report\n")
	b.WriteString("Preferred-Languages: en\n")
	b.WriteString("Canonical: " + base + "/.well-known/security.txt\n")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=86400")
	_, err := w.Write([]byte(b.String()))
	return err
}

// originOf is the public origin: the configured public URL, else the
// host the request was sent to (Portico answers only HTTPS).
func (s *Server) originOf(r *http.Request) string {
	if s.publicURL != "" {
		return strings.TrimSuffix(s.publicURL, "/")
	}
	return "https://" + r.Host
}

type disclosurePage struct {
	Page
	What, Where, Contact string
	MaxWhat, MaxWhere    int
	MaxContact           int
	Sent                 bool
}

func (s *Server) newDisclosurePage(w http.ResponseWriter, r *http.Request) disclosurePage {
	return disclosurePage{Page: s.page(w, r, "Report a vulnerability"), MaxWhat: findings.MaxDisclosure, MaxWhere: findings.MaxWhere, MaxContact: findings.MaxContact}
}

// disclosureForm is the public page of the disclosure policy and its form.
func (s *Server) disclosureForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "disclosure", s.newDisclosurePage(w, r))
}

// disclosure files a report from anyone as a finding for triage, after
// counting it against its network's limit. Nothing of the report or the
// reporter is logged.
//
// Enforces CP-6.2: the intake of vulnerability reports, throttled.
func (s *Server) disclosure(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	page := s.newDisclosurePage(w, r)
	page.What, page.Where, page.Contact = f.Get("what"), f.Get("where"), f.Get("contact")
	if err := s.identity.ThrottleDisclosure(r.Context(), clientIP(r)); err != nil {
		if formError(err) != "" {
			page.Page.Error = formError(err)
			return s.renderStatus(w, formStatus(err), "disclosure", page)
		}
		return err
	}
	if _, err := s.findings.Disclose(r.Context(), findings.Disclosure{What: page.What, Where: page.Where, Contact: page.Contact}); err != nil {
		if formError(err) != "" {
			page.formProblems(err, "what", "where", "contact")
			return s.renderStatus(w, formStatus(err), "disclosure", page)
		}
		return err
	}
	return s.render(w, "disclosure", disclosurePage{Page: s.page(w, r, "Thank you for your report"), Sent: true})
}
