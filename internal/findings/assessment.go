package findings

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Kinds of assessment.
const (
	AssessmentPentest    = "pentest"     // a penetration test
	AssessmentScan       = "scan"        // a vulnerability scan
	AssessmentCodeReview = "code_review" // a security review of the code
	AssessmentAudit      = "audit"       // an internal audit
)

// AssessmentKinds are the kinds of assessment, for the pages.
var AssessmentKinds = []string{AssessmentPentest, AssessmentScan, AssessmentCodeReview, AssessmentAudit}

// KindName is a kind of assessment for people.
func KindName(kind string) string {
	switch kind {
	case AssessmentPentest:
		return "penetration test"
	case AssessmentScan:
		return "vulnerability scan"
	case AssessmentCodeReview:
		return "code review"
	case AssessmentAudit:
		return "internal audit"
	}
	return kind
}

// Bounds on what an assessment holds.
const (
	maxScope       = 2000
	maxPerformedBy = 200
	maxSummary     = 10000
)

// Assessment is a vulnerability assessment, penetration test, code
// review or internal audit as it was performed.
type Assessment struct {
	ID, Kind    string
	Scope       string
	PerformedBy string // the firm or the person, free text
	PerformedAt time.Time
	Summary     string // Markdown
	CreatedAt   time.Time
	CreatedBy   string
}

// RecordAssessment records an assessment performed (not in the future).
// Its findings are filed with it afterwards (NewFinding.AssessmentID).
//
// Enforces CP-6.2, MTL-4.3.1: vulnerability assessments and penetration
// tests are recorded with what they covered, who did them and when.
func (s *Service) RecordAssessment(ctx context.Context, a Assessment, by string) (Assessment, error) {
	a.Scope, a.PerformedBy, a.Summary = strings.TrimSpace(a.Scope), strings.TrimSpace(a.PerformedBy), strings.TrimSpace(a.Summary)
	switch {
	case !slices.Contains(AssessmentKinds, a.Kind):
		return Assessment{}, apperr.New(apperr.Invalid, "Choose a penetration test, a vulnerability scan, a code review or an internal audit.")
	case a.Scope == "" || utf8.RuneCountInString(a.Scope) > maxScope:
		return Assessment{}, apperr.Errorf(apperr.Invalid, "Say what the assessment covered, in up to %d characters.", maxScope)
	case a.PerformedBy == "" || utf8.RuneCountInString(a.PerformedBy) > maxPerformedBy:
		return Assessment{}, apperr.Errorf(apperr.Invalid, "Say who performed it (a firm or a person), in up to %d characters.", maxPerformedBy)
	case a.PerformedAt.IsZero():
		return Assessment{}, apperr.New(apperr.Invalid, "Say when the assessment was performed.")
	case a.Summary == "" || utf8.RuneCountInString(a.Summary) > maxSummary:
		return Assessment{}, apperr.Errorf(apperr.Invalid, "Summarise the assessment in up to %d characters.", maxSummary)
	}
	a.PerformedAt = db.Time(a.PerformedAt)
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if a.PerformedAt.After(tx.Now()) {
			return apperr.New(apperr.Invalid, "The assessment cannot be in the future: record it once it has been performed.")
		}
		a.ID, a.CreatedAt, a.CreatedBy = newID(), tx.Now(), by
		if _, err := tx.ExecContext(ctx, `INSERT INTO assessments (id, kind, scope, performed_by, performed_at, summary, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.ID, a.Kind, a.Scope, a.PerformedBy, a.PerformedAt, a.Summary, a.CreatedAt, by); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "assessment.record", Target: "assessment:" + a.ID, Outcome: audit.Success,
			Details: map[string]any{"kind": a.Kind, "performed_at": a.PerformedAt.Format(time.RFC3339)}})
		return err
	})
	return a, err
}

// ErrNoAssessment answers for an assessment that does not exist.
var ErrNoAssessment = apperr.New(apperr.NotFound, "There is no such assessment.")

// Assessment returns one assessment.
func (s *Service) Assessment(ctx context.Context, id string) (Assessment, error) {
	return s.assessment(ctx, s.db, id)
}

func (s *Service) assessment(ctx context.Context, q querier, id string) (Assessment, error) {
	a, err := scanAssessment(q.QueryRowContext(ctx, `SELECT `+assessmentCols+` FROM assessments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNoAssessment
	}
	return a, err
}

// Assessments lists the assessments, the latest performed first.
func (s *Service) Assessments(ctx context.Context) ([]Assessment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+assessmentCols+` FROM assessments ORDER BY performed_at DESC, created_at DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Assessment
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// NextAssessmentDue is when the next assessment is due: the last one
// performed plus governance.assessment_interval; when none was ever
// recorded, the installation's start (its first account) plus the
// interval, so that a new installation has one interval for its first.
//
// Enforces CP-6.2, MTL-4.3.1: assessments are regular, at the profile's
// interval.
func (s *Service) NextAssessmentDue(ctx context.Context) (time.Time, error) {
	interval := s.profile.Governance.AssessmentInterval.Duration
	var last time.Time
	err := s.db.QueryRowContext(ctx, `SELECT performed_at FROM assessments ORDER BY performed_at DESC LIMIT 1`).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.db.QueryRowContext(ctx, `SELECT created_at FROM accounts ORDER BY created_at LIMIT 1`).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return db.Time(s.db.Now().Add(interval)), nil
		}
	}
	if err != nil {
		return time.Time{}, err
	}
	return db.Time(last.Add(interval)), nil
}

const assessmentCols = `id, kind, scope, performed_by, performed_at, summary, created_at, created_by`

func scanAssessment(row interface{ Scan(...any) error }) (Assessment, error) {
	var a Assessment
	err := row.Scan(&a.ID, &a.Kind, &a.Scope, &a.PerformedBy, &a.PerformedAt, &a.Summary, &a.CreatedAt, &a.CreatedBy)
	return a, err
}
