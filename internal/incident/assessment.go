package incident

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Assessment is what the security team knows of the breach that the
// regulator's report needs (GDPR Art. 33(3)) beyond the incident's own
// record: what happened, its likely consequences, the measures taken or
// proposed, the approximate number of records concerned and the contact
// point. The customer notice (Art. 34(2)) draws on it too.
type Assessment struct {
	// Nature is what happened: how the data was exposed or lost.
	Nature string
	// Consequences are the likely consequences for the people concerned.
	Consequences string
	// Measures are the measures taken or proposed to address the breach,
	// including those to mitigate its possible adverse effects.
	Measures string
	// ContactPoint is the name or role and the contact of the data
	// protection officer or another contact point for more information.
	ContactPoint string
	// RecordsApprox is the approximate number of personal-data records
	// concerned; nil while it is not yet estimated.
	RecordsApprox *int64
}

// Bounds of the assessment's fields.
const (
	maxAssessmentText = 5000
	maxContactPoint   = 500
)

// Assessment returns the incident's assessment.
func (s *Service) Assessment(ctx context.Context, id string) (Assessment, error) {
	var a Assessment
	var records sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT nature, consequences, measures, contact_point, records_approx FROM incidents WHERE id = $1`, id).
		Scan(&a.Nature, &a.Consequences, &a.Measures, &a.ContactPoint, &records)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNoIncident
	}
	if err != nil {
		return a, err
	}
	if records.Valid {
		n := records.Int64
		a.RecordsApprox = &n
	}
	return a, nil
}

// SetAssessment replaces the incident's assessment, while the incident is
// open. The audit event says which fields are filled in, not what they
// say.
//
// Enforces MTL-5.1.1: the parts of the regulator's report that Art. 33(3)
// asks for are recorded with the incident, by a member of the security
// team, on the record.
func (s *Service) SetAssessment(ctx context.Context, id string, a Assessment, by string) error {
	a.Nature, a.Consequences, a.Measures = strings.TrimSpace(a.Nature), strings.TrimSpace(a.Consequences), strings.TrimSpace(a.Measures)
	a.ContactPoint = strings.TrimSpace(a.ContactPoint)
	fields := map[string]string{}
	for key, v := range map[string]string{"nature": a.Nature, "consequences": a.Consequences, "measures": a.Measures} {
		if utf8.RuneCountInString(v) > maxAssessmentText {
			fields[key] = "Please keep this under 5,000 characters."
		}
	}
	if utf8.RuneCountInString(a.ContactPoint) > maxContactPoint {
		fields["contact_point"] = "Please keep the contact point under 500 characters: a role, a name and an address or phone number."
	}
	if a.RecordsApprox != nil && *a.RecordsApprox < 0 {
		fields["records_approx"] = "The number of records cannot be negative. Leave it empty while it is not estimated."
	}
	if err := apperr.FieldErrors("Some of the assessment needs correcting.", fields); err != nil {
		return err
	}
	var set []string
	for _, f := range []struct {
		key string
		on  bool
	}{{"nature", a.Nature != ""}, {"consequences", a.Consequences != ""}, {"measures", a.Measures != ""},
		{"records_approx", a.RecordsApprox != nil}, {"contact_point", a.ContactPoint != ""}} {
		if f.on {
			set = append(set, f.key)
		}
	}
	var records any
	if a.RecordsApprox != nil {
		records = *a.RecordsApprox
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if phase, err := s.lockPhase(ctx, tx, id); err != nil {
			return err
		} else if phase == PhaseClosed {
			return errClosed
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE incidents SET nature = $1, consequences = $2, measures = $3, records_approx = $4, contact_point = $5, updated_at = $6
			 WHERE id = $7`, a.Nature, a.Consequences, a.Measures, records, a.ContactPoint, tx.Now(), id); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.assessment", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"set": strings.Join(set, " ")}})
		return err
	})
}

// errClosed refuses a change to a closed incident's record.
var errClosed = apperr.New(apperr.Conflict, "The incident is closed: its record can no longer change.")
