package incident

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoIncident
	}
	return err
}

// Clock states.
const (
	ClockRunning = "running" // less than half the time used
	ClockHalf    = "half"    // half the time used: a warning
	ClockNear    = "near"    // the last tenth: a second warning
	ClockOverdue = "overdue" // past the deadline, nothing done
	ClockMet     = "met"     // done in time
	ClockLate    = "late"    // done after the deadline (with the reason)
	ClockNotDue  = "not-due" // the breach decision says this notice is not required
)

// Clock is one legal deadline of an incident.
type Clock struct {
	Name  string // "customers" or "regulator"
	Start time.Time
	Due   time.Time
	Left  time.Duration // negative once overdue
	State string
	Done  time.Time
}

// clock computes a deadline's state at now.
func clock(name string, start time.Time, within time.Duration, done, now time.Time) Clock {
	c := Clock{Name: name, Start: start, Due: start.Add(within), Done: done}
	c.Left = c.Due.Sub(now)
	switch {
	case !done.IsZero() && !done.After(c.Due):
		c.State = ClockMet
	case !done.IsZero():
		c.State = ClockLate
	case c.Left < 0:
		c.State = ClockOverdue
	case c.Left <= within/10:
		c.State = ClockNear
	case c.Left <= within/2:
		c.State = ClockHalf
	default:
		c.State = ClockRunning
	}
	return c
}

// Clocks returns the incident's legal clocks at now: customers told
// within incident.customer_notification of detection (CP-7.1), the
// regulator within incident.regulator_notification of awareness (GDPR
// Art. 33(1), MTL-5.1.1), unless the breach decision found no risk to
// people's rights.
//
// Enforces CP-7.1, MTL-5.1.1: the deadlines run from detection and
// awareness, are shown counting down, and warn at half time and in the
// last tenth.
func (s *Service) Clocks(inc Incident, customersTold time.Time, now time.Time) []Clock {
	in := s.profile.Incident
	cust := clock("customers", inc.DetectedAt, in.CustomerNotification.Duration, customersTold, now)
	var regDone time.Time
	if inc.Regulator != nil {
		regDone = inc.Regulator.At
	}
	reg := clock("regulator", inc.AwareAt, in.RegulatorNotification.Duration, regDone, now)
	if inc.Breach != nil && (!inc.Breach.PersonalData || !inc.Breach.Risk) && regDone.IsZero() {
		reg.State = ClockNotDue
	}
	return []Clock{cust, reg}
}

// ClocksNow is Clocks now, with the customers' clock stopped where the
// first breach notice went out (CustomersTold).
func (s *Service) ClocksNow(ctx context.Context, inc Incident) ([]Clock, error) {
	told, err := s.CustomersTold(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	return s.Clocks(inc, told, s.db.Now()), nil
}

// Decide records the personal-data-breach decision with its reasoning.
//
// Enforces MTL-5.1.1: whether personal data is affected and how great
// the risk to people is, which decides the notices due, is decided by a
// person and kept with the reasoning.
func (s *Service) Decide(ctx context.Context, id string, d Decision, by string) error {
	d.Reasoning = strings.TrimSpace(d.Reasoning)
	switch {
	case d.Reasoning == "":
		return apperr.New(apperr.Invalid, "Give the reasoning: it is what a regulator asks for when the decision is questioned.")
	case len(d.Reasoning) > 5000:
		return apperr.New(apperr.Invalid, "Please keep the reasoning under 5,000 characters.")
	case d.HighRisk && !d.Risk, d.Risk && !d.PersonalData:
		return apperr.New(apperr.Invalid, "A high risk is a risk, and a risk to people needs personal data to be affected.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE incidents SET breach_personal = $1, breach_risk = $2, breach_high_risk = $3, breach_reasoning = $4,
			   breach_decided_at = $5, breach_decided_by = $6, updated_at = $5 WHERE id = $7 AND closed_at IS NULL`,
			d.PersonalData, d.Risk, d.HighRisk, d.Reasoning, tx.Now(), by, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "There is no open incident with that ID.")
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.breach_decision", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"personal_data": d.PersonalData, "risk": d.Risk, "high_risk": d.HighRisk}})
		return err
	})
}

// RecordSubmission records that the regulator's report was submitted:
// which submission (the initial one, or a follow-up: GDPR Art. 33(4)
// lets the information come in phases), when, to which authority, under
// which reference, with a snapshot of the report as it stands (Portico
// does not send it). The initial submission also sets the incident's
// regulator_* columns, which the regulator's clock reads; after the
// deadline it needs the reasons for the delay (Art. 33(1)). A follow-up
// needs the initial submission first, and is not measured against the
// deadline: Art. 33(4) asks for it without undue further delay, and a
// reason given with it is kept.
//
// Enforces MTL-5.1.1: each submission to the regulator is recorded with
// what was submitted, phase by phase, and a late one with its reasons.
func (s *Service) RecordSubmission(ctx context.Context, id string, sub Submission, by string) error {
	sub.Authority, sub.Reference, sub.LateReason = strings.TrimSpace(sub.Authority), strings.TrimSpace(sub.Reference), strings.TrimSpace(sub.LateReason)
	if sub.Kind == "" {
		sub.Kind = SubmissionInitial
	}
	if field, msg := checkSubmission(sub); field != "" {
		return apperr.FieldErrors(msg, map[string]string{field: msg})
	}
	// The snapshot of what was submitted: the report as it stands (the
	// earlier submissions listed without their own snapshots).
	report, err := s.RegulatorReport(ctx, id)
	if err != nil {
		return err
	}
	content, err := report.JSON()
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		q := `SELECT aware_at FROM incidents WHERE id = $1`
		if tx.Dialect() == db.Postgres {
			q += ` FOR UPDATE`
		}
		var aware time.Time
		if err := tx.QueryRowContext(ctx, q, id).Scan(&aware); err != nil {
			return notFound(err)
		}
		if sub.At.IsZero() {
			sub.At = tx.Now()
		}
		sub.At = db.Time(sub.At)
		if sub.At.After(tx.Now()) {
			return apperr.FieldErrors("The submission cannot be in the future.", map[string]string{"at": "The submission cannot be in the future."})
		}
		var initial sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT submitted_at FROM incident_submissions WHERE incident_id = $1 AND kind = 'initial'`, id).Scan(&initial)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		late := false
		switch sub.Kind {
		case SubmissionInitial:
			if initial.Valid {
				return apperr.New(apperr.Conflict, "The initial report is already recorded: record what was sent after it as a follow-up.")
			}
			late = sub.At.After(aware.Add(s.profile.Incident.RegulatorNotification.Duration))
			if late && sub.LateReason == "" {
				msg := "The report went in after the deadline: GDPR Art. 33(1) asks for the reasons for the delay. Give them."
				return apperr.FieldErrors(msg, map[string]string{"late_reason": msg})
			}
			if _, err := tx.ExecContext(ctx,
				`UPDATE incidents SET regulator_submitted_at = $1, regulator_authority = $2, regulator_reference = $3, regulator_late_reason = $4,
				   updated_at = $5 WHERE id = $6`, sub.At, sub.Authority, sub.Reference, sub.LateReason, tx.Now(), id); err != nil {
				return err
			}
		case SubmissionFollowUp:
			if !initial.Valid {
				return apperr.New(apperr.Conflict, "A follow-up completes the initial report: record the initial submission first.")
			}
			if sub.At.Before(initial.Time) {
				msg := "A follow-up cannot have been submitted before the initial report."
				return apperr.FieldErrors(msg, map[string]string{"at": msg})
			}
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO incident_submissions (id, incident_id, kind, authority, reference, submitted_at, late_reason, content, created_at, created_by)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			newID(), id, sub.Kind, sub.Authority, sub.Reference, sub.At, sub.LateReason, string(content), tx.Now(), by); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.regulator_submission", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"kind": sub.Kind, "late": late, "draft": len(report.Missing()) > 0}})
		return err
	})
}

// checkSubmission says which input of a submission is wrong, and why.
func checkSubmission(sub Submission) (field, msg string) {
	switch {
	case sub.Kind != SubmissionInitial && sub.Kind != SubmissionFollowUp:
		return "kind", "Say whether this is the initial report or a follow-up."
	case sub.Authority == "" && sub.Reference == "":
		return "authority", "Name the authority and the reference it gave the report."
	case sub.Authority == "":
		return "authority", "Name the authority the report went to."
	case sub.Reference == "":
		return "reference", "Give the reference the authority gave the report."
	case utf8.RuneCountInString(sub.Authority) > 200:
		return "authority", "Please keep the authority's name under 200 characters."
	case utf8.RuneCountInString(sub.Reference) > 200:
		return "reference", "Please keep the reference under 200 characters."
	case utf8.RuneCountInString(sub.LateReason) > maxAssessmentText:
		return "late_reason", "Please keep the reasons under 5,000 characters."
	}
	return "", ""
}

// SetAwareness records when the organisation became aware that the
// incident is a personal-data breach, with the reason: the regulator's
// clock runs from it (GDPR Art. 33(1)). It may not be before detection
// nor in the future, and it can be set only while the regulator's report
// is not recorded.
//
// Enforces MTL-5.1.1: the regulator's deadline runs from awareness, and a
// later awareness is explained on the record.
func (s *Service) SetAwareness(ctx context.Context, id string, at time.Time, reason, by string) error {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return apperr.New(apperr.Invalid, "Say how and when it became clear that personal data was involved: the reason is kept with the clock.")
	case len(reason) > 2000:
		return apperr.New(apperr.Invalid, "Please keep the reason under 2,000 characters.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var detected time.Time
		var submitted sql.NullTime
		var closed sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT detected_at, regulator_submitted_at, closed_at FROM incidents WHERE id = $1`, id).
			Scan(&detected, &submitted, &closed); err != nil {
			return notFound(err)
		}
		at = db.Time(at)
		switch {
		case closed.Valid:
			return apperr.New(apperr.Conflict, "The incident is closed.")
		case submitted.Valid:
			return apperr.New(apperr.Conflict, "The regulator's report is recorded already: its clock is over.")
		case at.Before(detected):
			return apperr.New(apperr.Invalid, "Awareness cannot come before detection.")
		case at.After(tx.Now()):
			return apperr.New(apperr.Invalid, "Awareness cannot be in the future.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET aware_at = $1, aware_reason = $2, updated_at = $3 WHERE id = $4`,
			at, reason, tx.Now(), id); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.awareness", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"aware_at": at.Format(time.RFC3339), "after_detection_s": int64(at.Sub(detected).Seconds())}})
		return err
	})
}
