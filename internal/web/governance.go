package web

import (
	"context"
	"net/http"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/vulncheck"
)

// governanceRoutes is the overview of governance: one page that says, from
// the registers themselves, what is due or overdue (MTL-7.2).
func (s *Server) governanceRoutes() []route {
	if s.vendors == nil || s.policyDocs == nil || s.findings == nil || s.training == nil {
		return nil
	}
	return []route{{"GET /governance", access.GovernanceRead, s.governancePage}}
}

// governanceSummary is each register's state now.
type governanceSummary struct {
	// Third parties (CP-10.1, CP-10.2, MTL-6.1, MTL-6.2).
	Vendors, VendorsApproved, ReviewsOverdue, NotAssessed int
	ChecksBad, ChecksWarn                                 int
	AgreementsExpired, AgreementsExpiring                 int
	// Policy documents (CP-11.2).
	Documents, DocsOverdue, DocsRequested, DocsDraft int
	// Findings and assessments (CP-6.2, MTL-4.3.1, MTL-4.3.2).
	FindingsOpen, FindingsOverdue int
	BySeverity                    []severityCount
	NextAssessment                time.Time
	AssessmentOverdue             bool
	// Training (MTL-8.1).
	Modules, TrainingOverdue int
	// The binary (MTL-4.1.2).
	GoVersion    string
	Modules3rd   int
	LastVulns    findings.LastCheck
	HasLastVulns bool
}

type severityCount struct {
	Severity string
	Open     int
}

type governancePage struct {
	Page
	S   governanceSummary
	Now time.Time
	// What the viewer may change, for the links' wording.
	Vendors, Findings, PolicyDocs, Training bool
	// Compliance: the viewer reads the live compliance report.
	Compliance bool
}

func (s *Server) governancePage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := s.db.Now()
	sum, err := s.governanceSummary(ctx, now)
	if err != nil {
		return err
	}
	p := access.PrincipalFrom(ctx)
	return s.render(w, "governance", governancePage{Page: s.page(w, r, "Governance"), S: sum, Now: now,
		Vendors: access.Allowed(p, access.VendorManage), Findings: access.Allowed(p, access.FindingManage),
		PolicyDocs: access.Allowed(p, access.PolicyDocManage), Training: access.Allowed(p, access.TrainingManage),
		Compliance: s.compliance != nil && access.Allowed(p, access.ComplianceRead)})
}

// governanceSummary reads every register. The figures are the registers'
// own (the same as on their pages), taken now.
func (s *Server) governanceSummary(ctx context.Context, now time.Time) (governanceSummary, error) {
	var g governanceSummary
	vs, err := s.vendors.List(ctx)
	if err != nil {
		return g, err
	}
	warning := s.profile.Governance.ContractExpiryWarning.Duration
	for _, v := range vs {
		if v.Status == thirdparty.StatusRetired {
			continue
		}
		g.Vendors++
		if v.Status == thirdparty.StatusApproved {
			g.VendorsApproved++
		}
		switch {
		case v.ReviewDue.IsZero():
			g.NotAssessed++
		case now.After(v.ReviewDue):
			g.ReviewsOverdue++
		}
		st, err := s.vendors.LastStatus(ctx, v)
		if err != nil {
			return g, err
		}
		switch st {
		case thirdparty.CheckBad:
			g.ChecksBad++
		case thirdparty.CheckWarn:
			g.ChecksWarn++
		}
		ags, err := s.vendors.Agreements(ctx, v.ID)
		if err != nil {
			return g, err
		}
		for _, a := range ags {
			switch {
			case a.ExpiresOn.IsZero():
			case now.After(a.ExpiresOn):
				g.AgreementsExpired++
			case now.Add(warning).After(a.ExpiresOn):
				g.AgreementsExpiring++
			}
		}
	}
	docs, err := s.policyDocs.Documents(ctx)
	if err != nil {
		return g, err
	}
	for _, d := range docs {
		g.Documents++
		if !d.ReviewDue.IsZero() && now.After(d.ReviewDue) {
			g.DocsOverdue++
		}
		if !d.ReviewRequestedAt.IsZero() {
			g.DocsRequested++
		}
		if d.Latest > d.InForce {
			g.DocsDraft++
		}
	}
	open, err := s.findings.List(ctx, findings.Filter{Open: true})
	if err != nil {
		return g, err
	}
	counts := map[string]int{}
	for _, f := range open {
		g.FindingsOpen++
		counts[f.Severity]++
		if f.OverdueAt(now) {
			g.FindingsOverdue++
		}
	}
	for _, sev := range findings.Severities {
		if counts[sev] > 0 {
			g.BySeverity = append(g.BySeverity, severityCount{sev, counts[sev]})
		}
	}
	if g.NextAssessment, err = s.findings.NextAssessmentDue(ctx); err != nil {
		return g, err
	}
	g.AssessmentOverdue = now.After(g.NextAssessment)
	o, err := s.training.Overview(ctx)
	if err != nil {
		return g, err
	}
	for _, m := range o.Modules {
		if m.Active {
			g.Modules++
		}
	}
	g.TrainingOverdue = len(o.Overdue)
	if m, err := vulncheck.Current(); err == nil {
		g.GoVersion, g.Modules3rd = m.GoVersion, len(m.Deps)
	}
	if g.LastVulns, g.HasLastVulns, err = s.findings.LastVulncheck(ctx); err != nil {
		return g, err
	}
	return g, nil
}
