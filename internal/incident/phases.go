package incident

import (
	"context"
	"slices"
	"strings"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Checklist returns the items for phase of the plan version the incident
// recorded when it was opened, with who ticked each (absent when not yet).
func (s *Service) Checklist(ctx context.Context, id, phase string) ([]Item, map[string]string, error) {
	_, plan, err := s.incidentPlan(ctx, s.db, id, false)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT item, checked_by FROM incident_checks WHERE incident_id = $1 AND phase = $2`, id, phase)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	done := map[string]string{}
	for rows.Next() {
		var item, by string
		if err := rows.Scan(&item, &by); err != nil {
			return nil, nil, err
		}
		done[item] = by
	}
	return plan.Checklists[phase], done, rows.Err()
}

// Check ticks an item of the incident's current phase in the plan version
// it recorded, audited.
func (s *Service) Check(ctx context.Context, id, item, by string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		phase, plan, err := s.incidentPlan(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(plan.Checklists[phase], func(i Item) bool { return i.Code == item }) {
			return apperr.Errorf(apperr.Invalid, "%q is not an item of the %s phase's checklist.", item, phase)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO incident_checks (incident_id, phase, item, checked_at, checked_by) VALUES ($1, $2, $3, $4, $5)
			 ON CONFLICT (incident_id, phase, item) DO NOTHING`, id, phase, item, tx.Now(), by); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.check", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"phase": phase, "item": item}})
		return err
	})
}

// Advance moves the incident to its next phase once every item of the
// current phase's checklist is ticked, recording who and when. The
// checklist is that of the plan version the incident recorded when it
// was opened: a version approved meanwhile applies to the next incidents.
//
// Enforces CP-7.2, MTL-5.2.1: an incident moves through detected,
// triaged, contained, eradicated, recovered and closed only by doing what
// the approved response plan it was opened under asks at each phase.
func (s *Service) Advance(ctx context.Context, id, by string) (string, error) {
	var to string
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		phase, plan, err := s.incidentPlan(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if phase == PhaseClosed {
			return apperr.New(apperr.Conflict, "This incident is closed.")
		}
		rows, err := tx.QueryContext(ctx, `SELECT item FROM incident_checks WHERE incident_id = $1 AND phase = $2`, id, phase)
		if err != nil {
			return err
		}
		done := map[string]bool{}
		for rows.Next() {
			var item string
			if err := rows.Scan(&item); err != nil {
				rows.Close()
				return err
			}
			done[item] = true
		}
		rows.Close()
		var missing []string
		for _, it := range plan.Checklists[phase] {
			if !done[it.Code] {
				missing = append(missing, it.Text)
			}
		}
		if len(missing) > 0 {
			return apperr.Errorf(apperr.Conflict, "Before the incident leaves the %s phase, the plan asks: %s.", phase, strings.Join(missing, "; "))
		}
		to = Next(phase)
		closed := any(nil)
		if to == PhaseClosed {
			closed = tx.Now()
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET phase = $1, updated_at = $2, closed_at = COALESCE($3, closed_at) WHERE id = $4`,
			to, tx.Now(), closed, id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.phase", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"from": phase, "to": to}})
		return err
	})
	return to, err
}

// lockPhase reads the incident's phase, holding its row on PostgreSQL.
func (s *Service) lockPhase(ctx context.Context, tx *db.Tx, id string) (string, error) {
	q := `SELECT phase FROM incidents WHERE id = $1`
	if tx.Dialect() == db.Postgres {
		q += ` FOR UPDATE`
	}
	var phase string
	if err := tx.QueryRowContext(ctx, q, id).Scan(&phase); err != nil {
		return "", notFound(err)
	}
	return phase, nil
}
