package incident

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/portico/portico/internal/policy"
)

// RegulatorReport is the notification of a personal data breach to the
// supervisory authority (GDPR Art. 33), drafted from the incident's
// record: what Art. 33(3) asks for, (a) the nature of the breach with
// the categories and approximate numbers of people and records
// concerned, (b) the contact point, (c) the likely consequences, (d)
// the measures taken or proposed; with the breach decision and its
// reasoning, the containment carried out and the submissions so far.
//
// Portico drafts and records the report; the security team sends it
// through the authority's own channel and records each submission.
type RegulatorReport struct {
	IncidentID     string    `json:"incident_id"`
	Title          string    `json:"title"`
	Severity       string    `json:"severity"`
	Category       string    `json:"category"`
	Phase          string    `json:"phase"`
	DetectedAt     time.Time `json:"detected_at"`
	DetectedReason string    `json:"detected_reason"`
	AwareAt        time.Time `json:"aware_at"`
	// DueAt is the deadline: awareness plus incident.regulator_notification.
	DueAt time.Time `json:"due_at"`

	// Art. 33(3)(a).
	Nature         string   `json:"nature"`
	DataCategories []string `json:"data_categories"`
	// SubjectsApprox is the number of affected customers found from the
	// portal's records; nil while they have not been looked for.
	SubjectsApprox *int `json:"subjects_approx"`
	// RecordsApprox is the assessment's estimate; nil while not estimated.
	RecordsApprox *int64 `json:"records_approx"`
	// Art. 33(3)(b), (c), (d).
	ContactPoint string `json:"contact_point"`
	Consequences string `json:"consequences"`
	Measures     string `json:"measures"`

	// Breach is the personal-data-breach decision; nil while not made.
	Breach *Decision `json:"-"`
	// Containment sums up the containment carried out on the affected
	// accounts, action by action, from the incident's timeline.
	Containment []ContainmentAction `json:"containment"`
	// Submissions are the submissions recorded so far, oldest first
	// (without their snapshots).
	Submissions []SubmissionRecord `json:"submissions"`

	GeneratedAt time.Time `json:"generated_at"`
}

// ContainmentAction is one kind of containment taken on the affected
// accounts, summed over its batches.
type ContainmentAction struct {
	Action   string    `json:"action"` // ContainEndSessions, ContainForcePassword, ContainLock, ...
	Accounts int       `json:"accounts"`
	Batches  int       `json:"batches"`
	FirstAt  time.Time `json:"first_at"`
	LastAt   time.Time `json:"last_at"`
}

// SubmissionRecord is one submission of the regulator's report as
// recorded.
type SubmissionRecord struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"` // SubmissionInitial or SubmissionFollowUp
	Authority   string    `json:"authority"`
	Reference   string    `json:"reference"`
	SubmittedAt time.Time `json:"submitted_at"`
	// Late: an initial submission after the deadline.
	Late       bool   `json:"late"`
	LateReason string `json:"late_reason"`
	// Content is the JSON of the report as it was submitted ("{}" for a
	// submission recorded before snapshots were kept).
	Content   json.RawMessage `json:"-"`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by"`
}

// The parts of Art. 33(3) that Missing names.
const (
	MissingNature       = "Art. 33(3)(a): the nature of the breach"
	MissingCategories   = "Art. 33(3)(a): the categories of personal data concerned"
	MissingSubjects     = "Art. 33(3)(a): the approximate number of people concerned (find the affected customers)"
	MissingRecords      = "Art. 33(3)(a): the approximate number of records concerned"
	MissingContactPoint = "Art. 33(3)(b): the contact point"
	MissingConsequences = "Art. 33(3)(c): the likely consequences"
	MissingMeasures     = "Art. 33(3)(d): the measures taken or proposed"
)

// Missing lists the parts of Art. 33(3) that the report still lacks. A
// report with any is a draft; it can still be exported and submitted
// (Art. 33(4): the rest may follow in phases).
func (r RegulatorReport) Missing() []string {
	var out []string
	for _, p := range []struct {
		empty bool
		what  string
	}{
		{r.Nature == "", MissingNature},
		{len(r.DataCategories) == 0, MissingCategories},
		{r.SubjectsApprox == nil, MissingSubjects},
		{r.RecordsApprox == nil, MissingRecords},
		{r.ContactPoint == "", MissingContactPoint},
		{r.Consequences == "", MissingConsequences},
		{r.Measures == "", MissingMeasures},
	} {
		if p.empty {
			out = append(out, p.what)
		}
	}
	return out
}

// Initial returns the initial submission, if recorded.
func (r RegulatorReport) Initial() (SubmissionRecord, bool) {
	for _, s := range r.Submissions {
		if s.Kind == SubmissionInitial {
			return s, true
		}
	}
	return SubmissionRecord{}, false
}

// RegulatorReport drafts the regulator's report from the incident as it
// stands: its record, its assessment, its containment (from the
// timeline) and the submissions so far.
//
// Enforces MTL-5.1.1: the report carries each part that GDPR Art. 33(3)
// asks for, and says which are still missing.
func (s *Service) RegulatorReport(ctx context.Context, id string) (RegulatorReport, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return RegulatorReport{}, err
	}
	a, err := s.Assessment(ctx, id)
	if err != nil {
		return RegulatorReport{}, err
	}
	r := RegulatorReport{
		IncidentID: inc.ID, Title: inc.Title, Severity: inc.Severity, Category: inc.Category, Phase: inc.Phase,
		DetectedAt: inc.DetectedAt.UTC(), DetectedReason: inc.DetectedReason, AwareAt: inc.AwareAt.UTC(),
		DueAt:  inc.AwareAt.UTC().Add(s.profile.Incident.RegulatorNotification.Duration),
		Nature: a.Nature, DataCategories: inc.DataCategories, RecordsApprox: a.RecordsApprox,
		ContactPoint: a.ContactPoint, Consequences: a.Consequences, Measures: a.Measures,
		GeneratedAt: s.db.Now(),
	}
	if r.DataCategories == nil {
		r.DataCategories = []string{}
	}
	if inc.AffectedQuery != "" {
		n := inc.Affected
		r.SubjectsApprox = &n
	}
	if inc.Breach != nil {
		d := *inc.Breach
		d.DecidedAt = d.DecidedAt.UTC()
		r.Breach = &d
	}
	if r.Containment, err = s.containment(ctx, id); err != nil {
		return RegulatorReport{}, err
	}
	if r.Submissions, err = s.Submissions(ctx, id); err != nil {
		return RegulatorReport{}, err
	}
	return r, nil
}

// containment sums the incident.contain* events of the timeline by
// action.
func (s *Service) containment(ctx context.Context, id string) ([]ContainmentAction, error) {
	events, err := s.Timeline(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []ContainmentAction{}
	at := map[string]int{}
	for _, e := range events {
		if !strings.HasPrefix(e.Action, "incident.contain") {
			continue
		}
		var d struct {
			Action   string `json:"action"`
			Accounts int    `json:"accounts"`
		}
		_ = json.Unmarshal(e.Details, &d) // details are the service's own; a field it lacks counts as zero
		if d.Action == "" {
			d.Action = strings.TrimPrefix(e.Action, "incident.")
		}
		when, _ := time.Parse(time.RFC3339Nano, e.At)
		i, ok := at[d.Action]
		if !ok {
			i = len(out)
			at[d.Action] = i
			out = append(out, ContainmentAction{Action: d.Action, FirstAt: when.UTC()})
		}
		out[i].Accounts += d.Accounts
		out[i].Batches++
		out[i].LastAt = when.UTC()
	}
	return out, nil
}

// Submissions returns the incident's submissions to the regulator,
// oldest first, each with the snapshot of what was submitted.
func (s *Service) Submissions(ctx context.Context, id string) ([]SubmissionRecord, error) {
	var aware time.Time
	if err := s.db.QueryRowContext(ctx, `SELECT aware_at FROM incidents WHERE id = $1`, id).Scan(&aware); err != nil {
		return nil, notFound(err)
	}
	due := aware.Add(s.profile.Incident.RegulatorNotification.Duration)
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, kind, authority, reference, submitted_at, late_reason, content, created_at, created_by
		 FROM incident_submissions WHERE incident_id = $1`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SubmissionRecord{}
	for rows.Next() {
		var r SubmissionRecord
		var content string
		if err := rows.Scan(&r.ID, &r.Kind, &r.Authority, &r.Reference, &r.SubmittedAt, &r.LateReason, &content, &r.CreatedAt, &r.CreatedBy); err != nil {
			return nil, err
		}
		r.SubmittedAt, r.CreatedAt = r.SubmittedAt.UTC(), r.CreatedAt.UTC()
		r.Content = json.RawMessage(content)
		r.Late = r.Kind == SubmissionInitial && r.SubmittedAt.After(due)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The initial submission first, then the follow-ups in the order they
	// went in (and were recorded).
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Kind == SubmissionInitial) != (b.Kind == SubmissionInitial) {
			return a.Kind == SubmissionInitial
		}
		if !a.SubmittedAt.Equal(b.SubmittedAt) {
			return a.SubmittedAt.Before(b.SubmittedAt)
		}
		return a.CreatedAt.Before(b.CreatedAt)
	})
	return out, nil
}

// decisionJSON is Decision with the report's field names.
type decisionJSON struct {
	PersonalData bool      `json:"personal_data"`
	Risk         bool      `json:"risk"`
	HighRisk     bool      `json:"high_risk"`
	Reasoning    string    `json:"reasoning"`
	DecidedAt    time.Time `json:"decided_at"`
	DecidedBy    string    `json:"decided_by"`
}

// JSON is the report as JSON with stable snake_case names; a report with
// missing parts says so ("draft": true, "missing": [...]).
func (r RegulatorReport) JSON() ([]byte, error) {
	missing := r.Missing()
	if missing == nil {
		missing = []string{}
	}
	out := struct {
		Format  string   `json:"format"`
		Draft   bool     `json:"draft"`
		Missing []string `json:"missing"`
		RegulatorReport
		Breach *decisionJSON `json:"breach"`
	}{Format: "portico.regulator-report/1", Draft: len(missing) > 0, Missing: missing, RegulatorReport: r}
	if r.Breach != nil {
		d := decisionJSON(*r.Breach)
		out.Breach = &d
	}
	return json.MarshalIndent(out, "", "  ")
}

// regulatorControls are the controls of the regulator's report.
func regulatorControls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-5.1.1", Name: "incident.regulator-report",
			Description: "The regulator's report is drafted from the incident with each part GDPR Art. 33(3) asks for: (a) the nature of the breach with the categories of data and the approximate numbers of people (the affected customers found) and of records, (b) the contact point, (c) the likely consequences, (d) the measures taken or proposed, with the breach decision, its reasoning and the containment carried out; it names the parts still missing, and a draft says so on its face.",
			Test:        "internal/incident: TestRegulatorReport"},
		{Clause: "MTL-5.1.1", Name: "incident.regulator-report-missing",
			Description: "Each Art. 33(3) part left empty is named on the report's page and at the top of its PDF and JSON (\"DRAFT: missing ...\").",
			Test:        "internal/incident: TestRegulatorReportMissing"},
		{Clause: "MTL-5.1.1", Name: "incident.regulator-submissions",
			Description: "Submissions of the report are recorded in phases (Art. 33(4)): one initial submission, then follow-ups that need it, each with the authority, its reference, the time and a snapshot of the report as submitted; an initial submission after the deadline needs the reasons for the delay (Art. 33(1)).",
			Test:        "internal/incident: TestRegulatorSubmissions"},
		{Clause: "MTL-5.1.1", Name: "incident.regulator-export",
			Description: "The security team records the assessment and the submissions; auditors read the report; the PDF and JSON exports are downloads, each one audited (incident.report_export); customers cannot reach any of it.",
			Test:        "internal/web: TestIncidentRegulatorReport"},
	}
}
