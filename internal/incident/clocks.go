package incident

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

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
// when, to which authority, under which reference. After the deadline it
// needs the reason for the delay (GDPR Art. 33(1)).
func (s *Service) RecordSubmission(ctx context.Context, id string, sub Submission, by string) error {
	sub.Authority, sub.Reference, sub.LateReason = strings.TrimSpace(sub.Authority), strings.TrimSpace(sub.Reference), strings.TrimSpace(sub.LateReason)
	if sub.Authority == "" || sub.Reference == "" {
		return apperr.New(apperr.Invalid, "Name the authority and the reference it gave the report.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var aware time.Time
		if err := tx.QueryRowContext(ctx, `SELECT aware_at FROM incidents WHERE id = $1`, id).Scan(&aware); err != nil {
			return notFound(err)
		}
		if sub.At.IsZero() {
			sub.At = tx.Now()
		}
		if sub.At.After(tx.Now()) {
			return apperr.New(apperr.Invalid, "The submission cannot be in the future.")
		}
		late := sub.At.After(aware.Add(s.profile.Incident.RegulatorNotification.Duration))
		if late && sub.LateReason == "" {
			return apperr.New(apperr.Invalid, "The report went in after the deadline: GDPR Art. 33(1) asks for the reasons for the delay. Give them.")
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE incidents SET regulator_submitted_at = $1, regulator_authority = $2, regulator_reference = $3, regulator_late_reason = $4,
			   updated_at = $5 WHERE id = $6`, db.Time(sub.At), sub.Authority, sub.Reference, sub.LateReason, tx.Now(), id); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.regulator_submission", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"late": late}})
		return err
	})
}
