package web

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
)

// complianceRoutes are the live compliance report (MTL-7.2): the page, its
// downloads, and the evidence taken on demand.
func (s *Server) complianceRoutes() []route {
	if s.compliance == nil || s.audit == nil {
		return nil
	}
	return []route{
		{"GET /admin/compliance", access.ComplianceRead, s.compliancePage},
		{"POST /admin/compliance/evidence", access.ComplianceRun, s.complianceTake},
		{"GET /admin/compliance/report.json", access.ComplianceRead, s.complianceDownload("json")},
		{"GET /admin/compliance/report.html", access.ComplianceRead, s.complianceDownload("html")},
		{"GET /admin/compliance/report.pdf", access.ComplianceRead, s.complianceDownload("pdf")},
		{"POST /admin/compliance/bundle", access.ComplianceRead, s.complianceBundle},
	}
}

func init() {
	maps.Copy(flashes, map[string]string{
		"evidence-taken": "The evidence of every clause was taken now; the statuses below come from it.",
	})
}

// evidenceSpacing is the least time between two takings of the evidence
// on demand: each walks the whole audit chain.
const evidenceSpacing = time.Minute

// complianceFilters are the statuses the page filters by.
var complianceFilters = []compliance.ClauseState{compliance.Failing, compliance.Partial, compliance.Enforced}

// complianceClause is a clause on the page, with its history and failure
// periods in words.
type complianceClause struct {
	compliance.ClauseReport
	Slug string // the status as a class name
	// Cells are the history strip: each status in a mark and in words,
	// the colour only repeating them; PerDay when a cell is a day of runs.
	Cells     []compliance.StripCell
	PerDay    bool
	Periods   []string
	NControls int
}

type compliancePolicy struct {
	Name    string
	Clauses []complianceClause
}

type compliancePageData struct {
	Page
	Report   compliance.Report
	Policies []compliancePolicy
	// Filter is the status shown ("" for all) and Filters the choices.
	Filter  string
	Filters []string
	Shown   int
	Every   string // the schedule, in words
	CanRun  bool
	Trigger string // the latest run's trigger in words
}

// compliancePage shows the report: the counts, each clause with its status,
// reasons, controls and tests, evidence and history. ?status= keeps the
// clauses of one status; nothing here changes anything.
//
// Enforces MTL-7.2: administrators, auditors and the security team read
// every clause's computed status with its evidence and history.
func (s *Server) compliancePage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rep, err := s.compliance.Report(ctx, 0)
	if err != nil {
		return err
	}
	page := compliancePageData{Page: s.page(w, r, "Compliance"), Report: rep,
		Every:  durationText(s.profile.Governance.EvidenceInterval.Duration),
		CanRun: access.Allowed(access.PrincipalFrom(ctx), access.ComplianceRun)}
	for _, f := range complianceFilters {
		page.Filters = append(page.Filters, string(f))
	}
	if rep.Run != nil {
		page.Trigger = compliance.TriggerText(rep.Run.Trigger)
	}
	status := http.StatusOK
	switch f := r.URL.Query().Get("status"); {
	case f == "":
	case validFilter(f):
		page.Filter = f
	default:
		status = http.StatusBadRequest
		page.Error = "Filter by failing, partial or enforced. All the clauses are shown."
	}
	for _, p := range rep.Policies {
		cp := compliancePolicy{Name: p.Name}
		for _, c := range p.Clauses {
			if page.Filter != "" && string(c.Status) != page.Filter {
				continue
			}
			cp.Clauses = append(cp.Clauses, clauseOnPage(c))
		}
		page.Shown += len(cp.Clauses)
		if len(cp.Clauses) > 0 {
			page.Policies = append(page.Policies, cp)
		}
	}
	return s.renderStatus(w, status, "compliance", page)
}

func validFilter(f string) bool {
	for _, v := range complianceFilters {
		if string(v) == f {
			return true
		}
	}
	return false
}

// clauseOnPage adds the words of a clause's history and failure periods.
func clauseOnPage(c compliance.ClauseReport) complianceClause {
	out := complianceClause{ClauseReport: c, Slug: strings.ReplaceAll(string(c.Status), " ", "-"), NControls: len(c.Controls)}
	out.Cells, out.PerDay = compliance.Strip(c.History)
	for _, f := range c.Failures {
		if f.Ongoing {
			out.Periods = append(out.Periods, "Failing since "+compliance.When(f.From))
		} else {
			out.Periods = append(out.Periods, "Failed from "+compliance.When(f.From)+" to "+compliance.When(f.To))
		}
	}
	return out
}

// durationText says a schedule's interval in words: "1h0m0s" reads badly.
func durationText(d time.Duration) string {
	switch {
	case d <= 0:
		return "never"
	case d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

var (
	errEvidenceBusy = apperr.New(apperr.RateLimited,
		"The evidence is being taken now on this server. Wait for it to finish, then open the report again.")
	errEvidenceRecent = apperr.New(apperr.RateLimited,
		"The evidence was taken less than a minute ago: the report already shows it. Taking it walks the whole audit trail, so wait a minute before taking it again.")
)

// complianceTake takes the evidence of every clause now and shows the
// report. One taking at a time, and none within a minute of the last:
// each walks the whole audit chain, and a button pressed in a loop must
// not keep the database busy.
//
// Enforces MTL-7.2: the evidence is taken on demand by those the matrix
// allows (administrators and the security team, not auditors), and each
// taking is in the audit trail with who asked.
func (s *Server) complianceTake(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if !s.takingEvidence.CompareAndSwap(false, true) {
		return errEvidenceBusy
	}
	defer s.takingEvidence.Store(false)
	ctx := r.Context()
	runs, err := s.compliance.Runs(ctx, 1)
	if err != nil {
		return err
	}
	if len(runs) == 1 && s.db.Now().Sub(runs[0].StartedAt) < evidenceSpacing {
		return errEvidenceRecent
	}
	if _, err := s.compliance.TakeEvidence(ctx, compliance.OnDemand, audit.ActorFrom(ctx)); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/compliance?done=evidence-taken", http.StatusSeeOther)
	return nil
}

// complianceBundle makes the signed evidence bundle and serves it as a
// zip, for an auditor to verify offline (`portico compliance verify`). A
// POST: making one may create the signing key, and is audited
// (compliance.bundle) by the service.
//
// Enforces MTL-7.2: the auditor takes the evidence away in a form they
// verify without trusting the operator.
func (s *Server) complianceBundle(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	data, _, err := s.compliance.Bundle(ctx, audit.ActorFrom(ctx))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="portico-evidence-`+s.db.Now().Format("20060102-150405")+`.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(data)
	return err
}

// complianceDownload serves the report as a file in one format.
//
// Enforces MTL-7.2, CP-5.3: the report tells where each control is weak,
// so each download is recorded in the trail (format, run) before the file
// leaves, as the audit export is.
func (s *Server) complianceDownload(format string) handlerFunc {
	types := map[string]string{"json": "application/json", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		rep, err := s.compliance.Report(ctx, 0)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		switch format {
		case "json":
			err = rep.WriteJSON(&b)
		case "html":
			err = rep.WriteHTML(&b)
		default:
			err = rep.WritePDF(&b)
		}
		if err != nil {
			return err
		}
		run := ""
		if rep.Run != nil {
			run = rep.Run.ID
		}
		if err := s.record(ctx, "compliance.report.download", "compliance:report",
			map[string]any{"format": format, "run": run, "clauses": rep.Counts.All}); err != nil {
			return err
		}
		w.Header().Set("Content-Type", types[format])
		w.Header().Set("Content-Disposition", `attachment; filename="portico-compliance-`+rep.GeneratedAt.UTC().Format("20060102-150405")+"."+format+`"`)
		w.Header().Set("Cache-Control", "no-store")
		_, err = w.Write(b.Bytes())
		return err
	}
}
