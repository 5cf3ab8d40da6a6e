// Package findings is the findings register (docs/vulnerabilities.md):
// what vulnerability assessments, disclosure reports, the OSV check and
// later vendors, exercises and internal audits find, in one register,
// each finding owned, due by its severity (governance.remediation) and
// tracked to closure: resolved with evidence, or accepted as a risk by
// someone other than who filed it, until a date. It also keeps the
// assessments themselves, with the next one due, and runs the leased pass
// that raises overdue findings and assessments as alerts.
package findings

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// Service holds the findings register and the assessments.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	profile policy.Profile
}

// New returns the findings service.
func New(d *db.DB, a *audit.Log, p policy.Profile) *Service {
	return &Service{db: d, audit: a, profile: p}
}

// Sources of a finding.
const (
	SourceAssessment = "assessment"
	SourceDisclosure = "disclosure"
	SourceVulncheck  = "vulncheck"
	SourceAudit      = "audit"
	SourceVendor     = "vendor"
	SourceExercise   = "exercise"
	SourceOther      = "other"
)

// Sources are the kinds of source a finding may have, for the pages.
var Sources = []string{SourceAssessment, SourceDisclosure, SourceVulncheck, SourceAudit, SourceVendor, SourceExercise, SourceOther}

// Severities, the worst first.
var Severities = []string{"critical", "high", "medium", "low"}

// Statuses of a finding.
const (
	StatusOpen       = "open"
	StatusInProgress = "in_progress"
	StatusResolved   = "resolved"
	StatusAccepted   = "accepted"
)

// Statuses are every status, in the order of a finding's life.
var Statuses = []string{StatusOpen, StatusInProgress, StatusResolved, StatusAccepted}

// Bounds on what a finding holds.
const (
	MaxTitle       = 200
	MaxDescription = 10000
	MaxComponent   = 200
	MaxContact     = 320
	maxNote        = 4000
	maxSourceID    = 200
	// maxAcceptance is the longest a risk may be accepted for before
	// it is looked at again.
	maxAcceptance = 366 * 24 * time.Hour
)

// Finding is one entry of the register.
type Finding struct {
	ID                   string
	SourceKind, SourceID string
	AssessmentID         string // when it came from an assessment recorded here
	Title                string
	Description          string // Markdown or plain text
	Severity             string
	Component            string // the affected part of the system
	Owner                string // a staff account ID; "" while unassigned
	Status               string
	CreatedAt, DueAt     time.Time
	CreatedBy            string
	UpdatedAt            time.Time
	ClosedAt             time.Time
	ClosedBy             string
	// ClosingNote is the evidence of a resolution (what was done, the
	// commit or version) or the reason a risk was accepted.
	ClosingNote   string
	AcceptedUntil time.Time
	// ReporterContact is how the outside reporter of a disclosure asked
	// to be reached: personal data, shown only on the finding's page and
	// cleared once the finding has been closed for the retention of
	// security reports.
	ReporterContact string
}

// Closed reports whether the finding is resolved or accepted.
func (f Finding) Closed() bool { return f.Status == StatusResolved || f.Status == StatusAccepted }

// OverdueAt reports whether the finding is still being worked on after its
// remediation date.
func (f Finding) OverdueAt(now time.Time) bool { return !f.Closed() && now.After(f.DueAt) }

// NewFinding is what filing a finding takes.
type NewFinding struct {
	SourceKind, SourceID string
	AssessmentID         string
	Title, Description   string
	Severity             string
	Component            string
	Owner                string
	ReporterContact      string
	// DueAt, when set, is an agreed date earlier than the severity's
	// remediation deadline (an exercise's date for the fix): never later
	// than that deadline, nor in the past. Zero: the deadline.
	DueAt time.Time
	// By is who files it: a staff account ID, or audit.ActorAnonymous,
	// audit.ActorCLI or audit.ActorSystem.
	By string
}

// Remediation is the time the profile allows to fix a finding of the
// severity (governance.remediation).
//
// Enforces MTL-4.3.2, MTL-4.1.2: the deadline is set by severity from the
// policy profile.
func (s *Service) Remediation(severity string) time.Duration {
	r := s.profile.Governance.Remediation
	switch severity {
	case "critical":
		return r.Critical.Duration
	case "high":
		return r.High.Duration
	case "medium":
		return r.Medium.Duration
	case "low":
		return r.Low.Duration
	}
	return 0
}

// Create files a finding in its own transaction (see File).
func (s *Service) Create(ctx context.Context, n NewFinding) (Finding, error) {
	var f Finding
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		f, err = s.File(ctx, tx, n)
		return err
	})
	return f, err
}

// File files a finding inside the caller's transaction, so that another
// domain (vendors, exercises) files it with its own change: open, due
// governance.remediation[severity] after now (or at n.DueAt, if earlier
// and not past), audited (finding.create). An owner, if named, must be an
// active member of staff.
//
// Enforces MTL-4.3.2, CP-6.2: every finding is recorded with a severity,
// an owner and a remediation deadline from the policy profile, which an
// agreed date may bring forward but never push back.
func (s *Service) File(ctx context.Context, tx *db.Tx, n NewFinding) (Finding, error) {
	f := Finding{
		SourceKind: n.SourceKind, SourceID: strings.TrimSpace(n.SourceID), AssessmentID: strings.TrimSpace(n.AssessmentID),
		Title: strings.TrimSpace(n.Title), Description: strings.TrimSpace(n.Description), Severity: n.Severity,
		Component: strings.TrimSpace(n.Component), Owner: strings.TrimSpace(n.Owner), ReporterContact: strings.TrimSpace(n.ReporterContact),
		Status: StatusOpen, CreatedBy: n.By,
	}
	if f.AssessmentID != "" {
		f.SourceKind, f.SourceID = SourceAssessment, f.AssessmentID
	}
	if err := s.check(ctx, tx, f); err != nil {
		return Finding{}, err
	}
	switch {
	case !slices.Contains(Sources, f.SourceKind):
		return Finding{}, apperr.New(apperr.Invalid, "Choose where the finding came from.")
	case utf8.RuneCountInString(f.SourceID) > maxSourceID:
		return Finding{}, apperr.Errorf(apperr.Invalid, "Give the source's reference in up to %d characters.", maxSourceID)
	case utf8.RuneCountInString(f.ReporterContact) > MaxContact:
		return Finding{}, apperr.Errorf(apperr.Invalid, "Give the contact in up to %d characters.", MaxContact)
	case f.CreatedBy == "":
		return Finding{}, errors.New("findings: File needs who files it")
	}
	if f.AssessmentID != "" {
		if _, err := s.assessment(ctx, tx, f.AssessmentID); err != nil {
			return Finding{}, err
		}
	}
	f.ID, f.CreatedAt, f.UpdatedAt = newID(), tx.Now(), tx.Now()
	f.DueAt = db.Time(f.CreatedAt.Add(s.Remediation(f.Severity)))
	if !n.DueAt.IsZero() {
		due := db.Time(n.DueAt)
		switch {
		case due.After(f.DueAt):
			return Finding{}, apperr.Errorf(apperr.Invalid, "A %s finding must be fixed by %s (governance.remediation): give a due date no later than that.",
				f.Severity, f.DueAt.UTC().Format("2 Jan 2006 15:04 UTC"))
		case due.Before(f.CreatedAt):
			return Finding{}, apperr.New(apperr.Invalid, "The finding's due date cannot be in the past.")
		}
		f.DueAt = due
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO findings (id, source_kind, source_id, assessment_id, title, description, severity, component, owner, status,
		 created_at, created_by, due_at, updated_at, reporter_contact) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		f.ID, f.SourceKind, f.SourceID, nullable(f.AssessmentID), f.Title, f.Description, f.Severity, f.Component, f.Owner, f.Status,
		f.CreatedAt, f.CreatedBy, f.DueAt, f.UpdatedAt, nullable(f.ReporterContact)); err != nil {
		return Finding{}, err
	}
	// No title or text in the trail: a disclosure's words are the
	// reporter's, and may name people.
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: "finding.create", Target: "finding:" + f.ID, Outcome: audit.Success,
		Details: map[string]any{"source": f.SourceKind, "source_id": f.SourceID, "severity": f.Severity, "owner": f.Owner,
			"due": f.DueAt.Format(time.RFC3339)}})
	return f, err
}

// check checks what a finding says and its owner.
func (s *Service) check(ctx context.Context, q querier, f Finding) error {
	switch {
	case f.Title == "" || utf8.RuneCountInString(f.Title) > MaxTitle:
		return apperr.Errorf(apperr.Invalid, "Give the finding a title of up to %d characters.", MaxTitle)
	case f.Description == "" || utf8.RuneCountInString(f.Description) > MaxDescription:
		return apperr.Errorf(apperr.Invalid, "Describe the finding in up to %d characters.", MaxDescription)
	case !slices.Contains(Severities, f.Severity):
		return apperr.New(apperr.Invalid, "Choose a severity: critical, high, medium or low.")
	case utf8.RuneCountInString(f.Component) > MaxComponent:
		return apperr.Errorf(apperr.Invalid, "Name the affected component in up to %d characters.", MaxComponent)
	}
	if f.Owner != "" {
		if ok, err := staffMember(ctx, q, f.Owner); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Invalid, "The owner must be an active member of staff.")
		}
	}
	return nil
}

// Edit is a change to a finding's description, severity, component or
// owner.
type Edit struct {
	Title, Description, Severity, Component, Owner string
}

// Update changes what a finding says. A new severity moves the due date
// to the finding's creation plus governance.remediation for it (audited
// with both dates); the same severity keeps the due date, an agreed
// earlier one included. A closed finding cannot be edited: reopen it
// first.
//
// Enforces MTL-4.3.2: the deadline always follows the severity, and a
// change of either is on the record.
func (s *Service) Update(ctx context.Context, id string, e Edit, by string) (Finding, error) {
	var f Finding
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		if f, err = s.get(ctx, tx, id); err != nil {
			return err
		}
		if f.Closed() {
			return apperr.New(apperr.Conflict, "This finding is closed: reopen it to change it.")
		}
		old := f
		f.Title, f.Description, f.Severity = strings.TrimSpace(e.Title), strings.TrimSpace(e.Description), e.Severity
		f.Component, f.Owner = strings.TrimSpace(e.Component), strings.TrimSpace(e.Owner)
		if err := s.check(ctx, tx, f); err != nil {
			return err
		}
		if f.Severity != old.Severity {
			f.DueAt = db.Time(f.CreatedAt.Add(s.Remediation(f.Severity)))
		}
		f.UpdatedAt = tx.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE findings SET title = $1, description = $2, severity = $3, component = $4, owner = $5,
			due_at = $6, updated_at = $7 WHERE id = $8`, f.Title, f.Description, f.Severity, f.Component, f.Owner, f.DueAt, f.UpdatedAt, f.ID); err != nil {
			return err
		}
		details := map[string]any{"severity": f.Severity, "owner": f.Owner, "due": f.DueAt.Format(time.RFC3339)}
		if old.Severity != f.Severity {
			details["severity_from"], details["due_from"] = old.Severity, old.DueAt.Format(time.RFC3339)
		}
		if old.Owner != f.Owner {
			details["owner_from"] = old.Owner
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "finding.update", Target: "finding:" + f.ID, Outcome: audit.Success, Details: details})
		return err
	})
	return f, err
}

// Start marks an open finding as being worked on.
func (s *Service) Start(ctx context.Context, id, by string) error {
	return s.transition(ctx, id, "finding.start", []string{StatusOpen}, StatusInProgress, by, func(tx *db.Tx, f *Finding) (map[string]any, error) {
		if f.Owner == "" {
			// Whoever starts an unassigned finding owns it.
			if ok, err := staffMember(ctx, tx, by); err != nil || !ok {
				return nil, err
			}
			f.Owner = by
		}
		return map[string]any{"owner": f.Owner}, nil
	})
}

// Resolve closes a finding with the evidence of what was done: the
// change, the commit or the version that fixed it.
//
// Enforces MTL-4.3.2: a finding is closed only with evidence.
func (s *Service) Resolve(ctx context.Context, id, evidence, by string) error {
	evidence = strings.TrimSpace(evidence)
	if evidence == "" || utf8.RuneCountInString(evidence) > maxNote {
		return apperr.Errorf(apperr.Invalid, "Say what was done to fix it (the change, the commit or the version), in up to %d characters.", maxNote)
	}
	return s.transition(ctx, id, "finding.resolve", []string{StatusOpen, StatusInProgress}, StatusResolved, by, func(tx *db.Tx, f *Finding) (map[string]any, error) {
		f.ClosedAt, f.ClosedBy, f.ClosingNote = tx.Now(), by, evidence
		return map[string]any{"late": tx.Now().After(f.DueAt)}, nil
	})
}

// Accept closes a finding as an accepted risk, with the reason, until a
// date within a year, after which it is open again (the overdue pass
// reopens it). The one who filed the finding cannot accept it.
//
// Enforces MTL-4.3.2: a finding left unfixed is a decision on the record,
// by a second person, for a limited time.
func (s *Service) Accept(ctx context.Context, id, reason string, until time.Time, by string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxNote {
		return apperr.Errorf(apperr.Invalid, "Say why the risk is accepted, in up to %d characters.", maxNote)
	}
	return s.transition(ctx, id, "finding.accept", []string{StatusOpen, StatusInProgress}, StatusAccepted, by, func(tx *db.Tx, f *Finding) (map[string]any, error) {
		switch {
		case f.CreatedBy == by:
			return nil, apperr.New(apperr.Forbidden, "You filed this finding: another member of the security team must accept its risk.")
		case !until.After(tx.Now()) || until.After(tx.Now().Add(maxAcceptance)):
			return nil, apperr.New(apperr.Invalid, "Accept the risk until a date within the next year.")
		}
		f.ClosedAt, f.ClosedBy, f.ClosingNote, f.AcceptedUntil = tx.Now(), by, reason, db.Time(until)
		return map[string]any{"until": f.AcceptedUntil.Format(time.RFC3339)}, nil
	})
}

// Reopen opens a resolved or accepted finding again, with the reason
// (the fix did not hold, the acceptance was withdrawn). Its due date is
// still the one its severity set.
func (s *Service) Reopen(ctx context.Context, id, reason, by string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxNote {
		return apperr.Errorf(apperr.Invalid, "Say why the finding is reopened, in up to %d characters.", maxNote)
	}
	return s.transition(ctx, id, "finding.reopen", []string{StatusResolved, StatusAccepted}, StatusOpen, by, func(tx *db.Tx, f *Finding) (map[string]any, error) {
		f.ClosedAt, f.ClosedBy, f.ClosingNote, f.AcceptedUntil = time.Time{}, "", "", time.Time{}
		return map[string]any{"reason": short(reason)}, nil
	})
}

// transition moves a finding from one of from to to, with what change
// sets on it (and returns as the audit's details), in one transaction.
func (s *Service) transition(ctx context.Context, id, action string, from []string, to, by string,
	change func(tx *db.Tx, f *Finding) (map[string]any, error)) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		f, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(from, f.Status) {
			return apperr.Errorf(apperr.Conflict, "This finding is %s: it cannot be %s.", StatusName(f.Status), actionName(action))
		}
		details, err := change(tx, &f)
		if err != nil {
			return err
		}
		if details == nil {
			details = map[string]any{}
		}
		details["from"], details["to"] = f.Status, to
		f.Status, f.UpdatedAt = to, tx.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE findings SET status = $1, owner = $2, updated_at = $3, closed_at = $4, closed_by = $5,
			closing_note = $6, accepted_until = $7 WHERE id = $8`, f.Status, f.Owner, f.UpdatedAt, nullTime(f.ClosedAt), nullable(f.ClosedBy),
			f.ClosingNote, nullTime(f.AcceptedUntil), f.ID); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "finding:" + f.ID, Outcome: audit.Success, Details: details})
		return err
	})
}

// StatusName is a status for people.
func StatusName(status string) string {
	if status == StatusInProgress {
		return "in progress"
	}
	return status
}

func actionName(action string) string {
	switch action {
	case "finding.start":
		return "started"
	case "finding.resolve":
		return "resolved"
	case "finding.accept":
		return "accepted"
	case "finding.reopen":
		return "reopened"
	}
	return "changed"
}

// ErrNoFinding answers for a finding that does not exist.
var ErrNoFinding = apperr.New(apperr.NotFound, "There is no such finding.")

// Get returns one finding.
func (s *Service) Get(ctx context.Context, id string) (Finding, error) { return s.get(ctx, s.db, id) }

func (s *Service) get(ctx context.Context, q querier, id string) (Finding, error) {
	f, err := scanFinding(q.QueryRowContext(ctx, `SELECT `+findingCols+` FROM findings WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNoFinding
	}
	return f, err
}

// Filter narrows the list of findings; the zero Filter lists them all.
type Filter struct {
	Open     bool // open or in progress (and so not closed)
	Overdue  bool // open and past due at the time of the query
	Severity string
	Source   string
	// SourceID, with Source, lists one source's findings (an exercise's).
	SourceID string
	// Assessment lists an assessment's findings.
	Assessment string
}

// List lists the findings the filter lets through, the first due first
// (the worst first on the same date).
func (s *Service) List(ctx context.Context, f Filter) ([]Finding, error) {
	query := `SELECT ` + findingCols + ` FROM findings WHERE 1 = 1`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Open || f.Overdue {
		query += ` AND status IN ('open', 'in_progress')`
	}
	if f.Overdue {
		query += ` AND due_at < ` + arg(s.db.Now())
	}
	if f.Severity != "" {
		query += ` AND severity = ` + arg(f.Severity)
	}
	if f.Source != "" {
		query += ` AND source_kind = ` + arg(f.Source)
	}
	if f.SourceID != "" {
		query += ` AND source_id = ` + arg(f.SourceID)
	}
	if f.Assessment != "" {
		query += ` AND assessment_id = ` + arg(f.Assessment)
	}
	query += ` ORDER BY CASE WHEN status IN ('open', 'in_progress') THEN 0 ELSE 1 END, due_at,
		CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, id`
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

const findingCols = `id, source_kind, source_id, assessment_id, title, description, severity, component, owner, status,
	created_at, created_by, due_at, updated_at, closed_at, closed_by, closing_note, accepted_until, reporter_contact`

func scanFinding(row interface{ Scan(...any) error }) (Finding, error) {
	var f Finding
	var assessment, closedBy, contact sql.NullString
	var closedAt, until sql.NullTime
	err := row.Scan(&f.ID, &f.SourceKind, &f.SourceID, &assessment, &f.Title, &f.Description, &f.Severity, &f.Component, &f.Owner, &f.Status,
		&f.CreatedAt, &f.CreatedBy, &f.DueAt, &f.UpdatedAt, &closedAt, &closedBy, &f.ClosingNote, &until, &contact)
	f.AssessmentID, f.ClosedAt, f.ClosedBy, f.AcceptedUntil, f.ReporterContact = assessment.String, closedAt.Time, closedBy.String, until.Time, contact.String
	return f, err
}

// querier reads rows: *db.DB and *db.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// staffMember reports whether id is an active member of staff.
func staffMember(ctx context.Context, q db.Reader, id string) (bool, error) {
	return identity.ActiveStaffMember(ctx, q, id, "")
}

// StaffMember is an active member of staff, for the pages' choices.
type StaffMember = identity.Staff

// Staff lists the active members of staff for the pages' choices.
func (s *Service) Staff(ctx context.Context) ([]StaffMember, error) {
	return identity.ActiveStaff(ctx, s.db, access.RoleSecurity)
}

func newID() string { return strings.ToLower(rand.Text()) }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// short is the start of a text, for an audit detail.
func short(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

// Disclosure is a vulnerability report from outside, through the public
// form.
type Disclosure struct {
	What    string // what the reporter found
	Where   string // the affected page or component, optional
	Contact string // how to reach the reporter, optional
}

// Bounds on a disclosure, tighter than a finding's: the form is public.
const (
	MaxDisclosure = 5000
	MaxWhere      = 200
)

// Disclose files an outside report as a finding for triage: source
// disclosure, medium until triaged, open and unassigned. The reporter's
// contact is kept apart from the text (ReporterContact) and never goes
// into the audit trail.
//
// Enforces CP-6.2: anyone can report a vulnerability, and the report
// enters the findings register with a deadline.
func (s *Service) Disclose(ctx context.Context, d Disclosure) (Finding, error) {
	d.What, d.Where, d.Contact = strings.TrimSpace(d.What), strings.TrimSpace(d.Where), strings.TrimSpace(d.Contact)
	switch {
	case d.What == "" || utf8.RuneCountInString(d.What) > MaxDisclosure:
		return Finding{}, apperr.InField("what", apperr.Errorf(apperr.Invalid, "Describe what you found in up to %d characters.", MaxDisclosure))
	case utf8.RuneCountInString(d.Where) > MaxWhere:
		return Finding{}, apperr.InField("where", apperr.Errorf(apperr.Invalid, "Name the page or component in up to %d characters.", MaxWhere))
	case utf8.RuneCountInString(d.Contact) > MaxContact:
		return Finding{}, apperr.InField("contact", apperr.Errorf(apperr.Invalid, "Give your contact in up to %d characters.", MaxContact))
	}
	title := "Reported vulnerability"
	if d.Where != "" {
		title += " in " + d.Where
	}
	if r := []rune(title); len(r) > MaxTitle {
		title = string(r[:MaxTitle-1]) + "…"
	}
	return s.Create(ctx, NewFinding{SourceKind: SourceDisclosure, Title: title, Description: d.What, Severity: "medium",
		Component: d.Where, ReporterContact: d.Contact, By: audit.ActorAnonymous})
}
