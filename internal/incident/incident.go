// Package incident is incident response (docs/incidents.md): incidents
// run by phase with the checklists of the approved response plan version,
// the affected customers found from the portal's own records, containment
// in bulk, the personal-data-breach decision, the legal clocks (customers
// within incident.customer_notification of detection, the regulator
// within incident.regulator_notification of awareness) and their
// warnings, breach notices and follow-ups tracked per customer, the laws
// that apply with the breach register, the regulator's report, exercises
// and post-incident reviews.
package incident

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/policy"
)

// Service holds incidents.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	profile policy.Profile
	plan    Plan
	// opened runs in the transaction that opens an incident (SetOpened).
	opened func(ctx context.Context, tx *db.Tx, inc Incident, by string) error
	// deliver carries notices to customers (SetDeliverer).
	deliver Deliverer
	warn    warnHooks // warn.go
	// categories are the data inventory's categories, which an incident
	// names as involved (SetDataCategories).
	categories []string
	// findings is the findings register, where exercises file what they
	// find (SetFindings).
	findings *findings.Service
}

// SetFindings sets the findings register, where an exercise's findings
// are filed and tracked to closure with those of every other source.
func (s *Service) SetFindings(f *findings.Service) { s.findings = f }

// SetDataCategories sets the data inventory's categories of personal
// data (privacy.Inventory): an incident may name only these.
func (s *Service) SetDataCategories(names []string) { s.categories = names }

// SetDeliverer sets how notices reach customers: the program gives the
// portal's inbox and the mail outbox.
func (s *Service) SetDeliverer(d Deliverer) { s.deliver = d }

// SetOpened sets what runs inside the transaction that opens an incident:
// the program marks the alert or report it came from as escalated, so the
// two commit together.
func (s *Service) SetOpened(f func(ctx context.Context, tx *db.Tx, inc Incident, by string) error) {
	s.opened = f
}

// New returns the incident service, following the built-in response plan.
func New(d *db.DB, a *audit.Log, p policy.Profile) *Service {
	return &Service{db: d, audit: a, profile: p, plan: BuiltinPlan}
}

// Severities of an incident.
var severities = []string{"low", "medium", "high", "critical"}

// New is what opening an incident takes.
type NewIncident struct {
	Title, Severity, Category string
	// Source: "alert:<id>", "report:<id>" or "" (by hand).
	Source string
	// DetectedAt is when the incident was detected. For an alert it
	// defaults to the alert's first occurrence; an earlier time needs
	// DetectedReason.
	DetectedAt     time.Time
	DetectedReason string
	DataCategories []string
	// exercise marks a drill's incident with its exercise (StartDrill).
	exercise string
}

// Incident is an incident as the security team sees it.
type Incident struct {
	ID, Title, Severity, Category, Source, Phase, PlanVersion string
	DetectedAt, AwareAt                                       time.Time
	DetectedReason, AwareReason                               string
	DataCategories                                            []string
	AffectedQuery                                             string
	Affected                                                  int
	Breach                                                    *Decision
	Regulator                                                 *Submission
	CreatedAt                                                 time.Time
	CreatedBy                                                 string
	ClosedAt                                                  time.Time
}

// Decision is the personal-data-breach decision: it decides which notices
// are due (GDPR Art. 33 to the regulator unless there is no risk, Art. 34
// to the people when the risk is high).
type Decision struct {
	PersonalData, Risk, HighRisk bool
	Reasoning                    string
	DecidedAt                    time.Time
	DecidedBy                    string
}

// Submission records the regulator's report as submitted (Portico does not
// send it). Incident.Regulator is the initial submission.
type Submission struct {
	// Kind is SubmissionInitial (also when empty) or SubmissionFollowUp.
	Kind                 string
	At                   time.Time
	Authority, Reference string
	LateReason           string
}

// Kinds of submission of the regulator's report (GDPR Art. 33(4): the
// information may be provided in phases).
const (
	SubmissionInitial  = "initial"
	SubmissionFollowUp = "follow-up"
)

func newID() string { return strings.ToLower(rand.Text()) }

// Open creates an incident in phase detected and audits it.
//
// Enforces CP-7.2: incidents are opened from an alert, a report or by
// hand, with their detection time, and run by the response plan.
func (s *Service) Open(ctx context.Context, n NewIncident, by string) (Incident, error) {
	n.Title, n.Category = strings.TrimSpace(n.Title), strings.TrimSpace(n.Category)
	switch {
	case n.Title == "" || len(n.Title) > 200:
		return Incident{}, apperr.New(apperr.Invalid, "Give the incident a title of up to 200 characters.")
	case !slices.Contains(severities, n.Severity):
		return Incident{}, apperr.New(apperr.Invalid, "Choose a severity: low, medium, high or critical.")
	case n.Category == "":
		return Incident{}, apperr.New(apperr.Invalid, "Give the incident a category (account takeover, data exposure, ...).")
	}
	var inc Incident
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		detected, err := s.detectedAt(ctx, tx, n)
		if err != nil {
			return err
		}
		if detected.After(now) {
			return apperr.New(apperr.Invalid, "The detection time cannot be in the future.")
		}
		cats := []string{}
		for _, c := range n.DataCategories {
			if s.categories != nil && !slices.Contains(s.categories, c) {
				return apperr.New(apperr.Invalid, "Choose the data categories from the data inventory: "+strings.Join(s.categories, ", ")+".")
			}
			if !slices.Contains(cats, c) {
				cats = append(cats, c)
			}
		}
		catsJSON, _ := json.Marshal(cats)
		plan, err := s.planInForce(ctx, tx) // plandoc.go: the approved version, kept to the end (MTL-5.2.1)
		if err != nil {
			return err
		}
		inc = Incident{ID: newID(), Title: n.Title, Severity: n.Severity, Category: n.Category, Source: n.Source,
			Phase: PhaseDetected, PlanVersion: plan.Version, DetectedAt: detected, AwareAt: detected,
			DetectedReason: strings.TrimSpace(n.DetectedReason), DataCategories: cats, CreatedAt: now, CreatedBy: by}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO incidents (id, title, severity, category, source, phase, plan_version, detected_at, detected_reason, aware_at,
			   data_categories, created_at, created_by, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $10, $11, $12, $11)`,
			inc.ID, inc.Title, inc.Severity, inc.Category, inc.Source, inc.Phase, inc.PlanVersion, detected, inc.DetectedReason,
			string(catsJSON), now, by); err != nil {
			return err
		}
		if n.exercise != "" { // a drill (exercise.go): marked as it is born, so its notices go to test accounts only
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET exercise_id = $1 WHERE id = $2`, n.exercise, inc.ID); err != nil {
				return err
			}
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.open", Target: "incident:" + inc.ID, Outcome: audit.Success,
			Details: map[string]any{"severity": inc.Severity, "source": inc.Source, "detected_at": detected.Format(time.RFC3339),
				"plan": inc.PlanVersion}})
		if err == nil && s.opened != nil && inc.Source != "" {
			err = s.opened(ctx, tx, inc, by)
		}
		return err
	})
	return inc, err
}

// detectedAt is the incident's detection time: the alert's first
// occurrence or the report's filing when it comes from one; a time given
// by hand must not be later than that, and an earlier one needs a reason.
func (s *Service) detectedAt(ctx context.Context, tx *db.Tx, n NewIncident) (time.Time, error) {
	var source time.Time
	kind, id, _ := strings.Cut(n.Source, ":")
	var q string
	switch kind {
	case "":
	case "alert":
		q = `SELECT first_at FROM alerts WHERE id = $1`
	case "report":
		q = `SELECT created_at FROM security_reports WHERE id = $1`
	default:
		return time.Time{}, apperr.New(apperr.Invalid, "An incident comes from an alert, a report or is opened by hand.")
	}
	if q != "" {
		err := tx.QueryRowContext(ctx, q, id).Scan(&source)
		if errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, apperr.Errorf(apperr.NotFound, "There is no such %s.", kind)
		}
		if err != nil {
			return time.Time{}, err
		}
	}
	switch {
	case n.DetectedAt.IsZero() && source.IsZero():
		return tx.Now(), nil
	case n.DetectedAt.IsZero():
		return db.Time(source), nil
	case !source.IsZero() && n.DetectedAt.After(source):
		return time.Time{}, apperr.New(apperr.Invalid, "The detection time cannot be later than the alert or report the incident comes from: the clock starts there.")
	case strings.TrimSpace(n.DetectedReason) == "" && (!source.IsZero() || n.DetectedAt.Before(tx.Now().Add(-time.Minute))):
		return time.Time{}, apperr.New(apperr.Invalid, "Say why the incident was detected earlier than it was opened: the reason is kept with the clock.")
	}
	return db.Time(n.DetectedAt), nil
}

// ErrNoIncident is the answer for an incident that does not exist.
var ErrNoIncident = apperr.New(apperr.NotFound, "There is no such incident.")

// incidentColumns are the columns scanIncident reads, in order.
const incidentColumns = `id, title, severity, category, source, phase, plan_version, detected_at, detected_reason, aware_at, data_categories,
   affected_query, affected_count, breach_personal, breach_risk, breach_high_risk, breach_reasoning, breach_decided_at,
   breach_decided_by, regulator_submitted_at, regulator_authority, regulator_reference, regulator_late_reason,
   created_at, created_by, closed_at, aware_reason`

// Get returns one incident.
func (s *Service) Get(ctx context.Context, id string) (Incident, error) {
	inc, err := scanIncident(s.db.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, ErrNoIncident
	}
	return inc, err
}

// List returns up to limit incidents, open ones (open) or closed ones,
// most recently detected first.
func (s *Service) List(ctx context.Context, open bool, limit int) ([]Incident, error) {
	cond := `closed_at IS NULL`
	if !open {
		cond = `closed_at IS NOT NULL`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE `+cond+` ORDER BY detected_at DESC, id LIMIT $1`,
		min(max(limit, 1), 500))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

func scanIncident(row interface{ Scan(...any) error }) (Incident, error) {
	var inc Incident
	var cats string
	var personal, risk, high sql.NullBool
	var decidedAt, submittedAt, closedAt sql.NullTime
	var reasoning, decidedBy, authority, reference, late sql.NullString
	err := row.Scan(&inc.ID, &inc.Title, &inc.Severity, &inc.Category, &inc.Source, &inc.Phase,
		&inc.PlanVersion, &inc.DetectedAt, &inc.DetectedReason, &inc.AwareAt, &cats, &inc.AffectedQuery, &inc.Affected,
		&personal, &risk, &high, &reasoning, &decidedAt, &decidedBy, &submittedAt, &authority, &reference, &late,
		&inc.CreatedAt, &inc.CreatedBy, &closedAt, &inc.AwareReason)
	if err != nil {
		return inc, err
	}
	if err := json.Unmarshal([]byte(cats), &inc.DataCategories); err != nil {
		return inc, err
	}
	if personal.Valid {
		inc.Breach = &Decision{PersonalData: personal.Bool, Risk: risk.Bool, HighRisk: high.Bool, Reasoning: reasoning.String,
			DecidedAt: decidedAt.Time, DecidedBy: decidedBy.String}
	}
	if submittedAt.Valid {
		inc.Regulator = &Submission{At: submittedAt.Time, Authority: authority.String, Reference: reference.String, LateReason: late.String}
	}
	inc.ClosedAt = closedAt.Time
	return inc, nil
}
