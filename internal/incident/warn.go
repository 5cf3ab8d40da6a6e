package incident

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// Warning is one warning on an incident's legal clock: it reached half
// time, its last tenth, or its deadline with nothing done.
type Warning struct {
	IncidentID string
	Title      string // the security team's title, for their email only
	Severity   string
	Clock      string // Clock.Name: "customers" or "regulator"
	State      string // ClockHalf, ClockNear or ClockOverdue
	Due        time.Time
	At         time.Time // when the warning was recorded
}

// warnHooks is what the application connects to the clock warnings.
type warnHooks struct {
	// warned delivers a warning inside the transaction that records it.
	warned func(ctx context.Context, tx *db.Tx, w Warning) error
}

// SetWarned connects the delivery of clock warnings (email, live feed),
// called in the transaction that records each one, so that a warning is
// recorded if and only if it was handed over. Call it before Run.
func (s *Service) SetWarned(fn func(ctx context.Context, tx *db.Tx, w Warning) error) {
	s.warn.warned = fn
}

// warnStates are the clock states that warn.
var warnStates = []string{ClockHalf, ClockNear, ClockOverdue}

// WarnClocks warns of every open incident's clocks that have reached half
// time, their last tenth or their deadline since the last pass, and returns
// how many warnings it recorded. Each (incident, clock, state) warns once:
// a clock that is found already in its last tenth warns for that alone.
//
// Enforces CP-7.1, MTL-5.1.1: the security team is warned at half time,
// near the deadline and once it has passed, once each, and the warning is
// audited (incident.clock_warning) with the delivery in one transaction.
func (s *Service) WarnClocks(ctx context.Context) (int, error) {
	ids, err := s.openIncidents(ctx)
	if err != nil {
		return 0, err
	}
	now := s.db.Now()
	n := 0
	var errs []error
	for _, id := range ids {
		k, err := s.warnIncident(ctx, id, now)
		n += k
		if err != nil {
			// One incident's failure does not hold back the others'
			// warnings; it is tried again on the next pass.
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

func (s *Service) openIncidents(ctx context.Context) ([]string, error) {
	return db.Strings(ctx, s.db, `SELECT id FROM incidents WHERE closed_at IS NULL ORDER BY detected_at, id`)
}

// warnIncident records and delivers the warnings due on one incident's
// clocks at now.
func (s *Service) warnIncident(ctx context.Context, id string, now time.Time) (int, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	told, err := s.CustomersTold(ctx, id)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range s.Clocks(inc, told, now) {
		if !slices.Contains(warnStates, c.State) {
			continue
		}
		w := Warning{IncidentID: inc.ID, Title: inc.Title, Severity: inc.Severity, Clock: c.Name, State: c.State, Due: c.Due}
		warned, err := s.warnOnce(ctx, w)
		if err != nil {
			return n, err
		}
		if warned {
			n++
		}
	}
	return n, nil
}

// warnOnce records w unless it was recorded already (by an earlier pass or
// another node) or the incident has closed meanwhile, audits it and hands
// it to the Warned hook, in one transaction.
func (s *Service) warnOnce(ctx context.Context, w Warning) (bool, error) {
	warned := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		warned = false
		w.At = tx.Now()
		var closed sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT closed_at FROM incidents WHERE id = $1`, w.IncidentID).Scan(&closed); err != nil {
			return notFound(err)
		}
		if closed.Valid {
			return nil
		}
		res, err := tx.ExecContext(ctx,
			`INSERT INTO incident_clock_warnings (incident_id, clock, state, warned_at) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (incident_id, clock, state) DO NOTHING`, w.IncidentID, w.Clock, w.State, w.At)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // warned already
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.clock_warning", Target: "incident:" + w.IncidentID,
			Outcome: audit.Success, Details: map[string]any{"clock": w.Clock, "state": w.State, "due": w.Due.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		if s.warn.warned != nil {
			if err := s.warn.warned(ctx, tx, w); err != nil {
				return err
			}
		}
		warned = true
		return nil
	})
	return warned, err
}

// Run warns of the clocks (WarnClocks) and reminds customers of the steps
// left from a notice (Remind) at once and then every interval until ctx
// ends, on one node at a time: each pass takes or renews the
// lease incident.warnings, held for three intervals so that a node that
// dies is replaced soon after. Errors are logged (nil logger: the
// default) and the pass is tried again at the next tick.
//
// Enforces CP-7.1, MTL-5.1.1: the warnings go out while Portico runs,
// from one node.
func (s *Service) Run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	s.db.RunLeased(audit.WithActor(ctx, audit.ActorSystem), warnLease, every, logger, "incident clock warnings", func(ctx context.Context) error {
		if _, err := s.WarnClocks(ctx); err != nil {
			return err
		}
		// Reminders of the steps a notice asked of customers (CP-9.2)
		// ride on the same lease.
		if s.deliver != nil {
			if _, err := s.Remind(ctx); err != nil {
				return err
			}
		}
		_, err := s.WarnExercise(ctx)
		return err
	})
}

// WarnExercise records, once per due date, that the response plan's
// exercise is overdue (incident.exercise_overdue in the audit trail, which
// detection raises as an incident_overdue alert to the security team). It
// reports whether it recorded one.
//
// Enforces MTL-5.2.2: an exercise not held within
// incident.exercise_interval is an alert.
func (s *Service) WarnExercise(ctx context.Context) (bool, error) {
	due, err := s.NextExerciseDue(ctx)
	if err != nil || !s.db.Now().After(due) {
		return false, err
	}
	target := "exercises:" + due.UTC().Format(time.RFC3339)
	warned := false
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'incident.exercise_overdue' AND target = $1`,
			target).Scan(&n); err != nil || n > 0 {
			return err
		}
		warned = true
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.exercise_overdue", Target: target, Outcome: audit.Success,
			Details: map[string]any{"due": due.UTC().Format(time.RFC3339)}})
		return err
	})
	return warned, err
}

// warnLease is the name of the clock warnings' lease (db.TakeLease).
const warnLease = "incident.warnings"

// warnControls are the controls of the clock warnings.
func warnControls() []policy.Control {
	return []policy.Control{
		// Enforces CP-7.1: customers are told in time.
		{Clause: "CP-7.1", Name: "incident.clock-warnings",
			Description: "Every open incident's customers' clock warns the security team at half time, in the last tenth and once overdue, once each (recorded per incident, clock and state, on one node at a time under a lease): by email to each active security member with a link to the incident, in the live feed, and, when overdue, as a high incident_overdue alert. A met clock and a closed incident never warn.",
			Test:        "internal/incident: TestWarnClocks"},
		// Enforces MTL-5.1.1: the regulator is notified as the law
		// requires, in time.
		{Clause: "MTL-5.1.1", Name: "incident.regulator-warnings",
			Description: "The regulator's clock warns the same way (half time, last tenth, overdue, once each, by email, in the feed and as an incident_overdue alert), unless the breach decision found it not due or the submission is recorded.",
			Test:        "internal/incident: TestWarnClocks"},
	}
}
