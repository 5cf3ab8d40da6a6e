package detect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"strings"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

const alertColumns = `id, rule, severity, subject_kind, subject, summary, accounts, networks, evidence, state, state_reason,
	COALESCE(assigned_to, ''), occurrences, first_at, last_at, updated_at`

func scanAlert(row interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var accounts, networks, evidence string
	if err := row.Scan(&r.ID, &r.Rule, &r.Severity, &r.SubjectKind, &r.Subject, &r.Summary, &accounts, &networks, &evidence,
		&r.State, &r.StateReason, &r.AssignedTo, &r.Occurrences, &r.FirstAt, &r.LastAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	for _, f := range []struct {
		s string
		v any
	}{{accounts, &r.Accounts}, {networks, &r.Networks}, {evidence, &r.Evidence}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Filter selects alerts for the triage queue.
type Filter struct {
	States []string // empty: new and acknowledged (the open ones)
	Rule   string
	Limit  int
}

// Alerts lists alerts, the most recently seen first.
func (s *Service) Alerts(ctx context.Context, f Filter) ([]Record, error) {
	states := f.States
	if len(states) == 0 {
		states = []string{StateNew, StateAcknowledged}
	}
	q := `SELECT ` + alertColumns + ` FROM alerts WHERE state IN (`
	var args []any
	for i, st := range states {
		if i > 0 {
			q += ", "
		}
		args = append(args, st)
		q += "$" + strconv.Itoa(len(args))
	}
	q += ")"
	if f.Rule != "" {
		args = append(args, f.Rule)
		q += " AND rule = $" + strconv.Itoa(len(args))
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 200
	}
	args = append(args, f.Limit)
	q += " ORDER BY last_at DESC, id LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.d.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNoAlert is the answer for an alert that does not exist.
var ErrNoAlert = apperr.New(apperr.NotFound, "There is no such alert.")

// Alert returns one alert.
func (s *Service) Alert(ctx context.Context, id string) (Record, error) {
	r, err := scanAlert(s.d.DB.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoAlert
	}
	return r, err
}

// Counts returns the number of alerts in each state.
func (s *Service) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := s.d.DB.QueryContext(ctx, `SELECT state, COUNT(*) FROM alerts GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// transitions are the moves of triage: from which states each state can
// be reached.
var transitions = map[string][]string{
	StateAcknowledged: {StateNew},
	StateDismissed:    {StateNew, StateAcknowledged},
	StateEscalated:    {StateNew, StateAcknowledged},
}

// SetState moves an alert in triage: acknowledge it (someone is on it),
// dismiss it (with the reason: a false positive, a test, known
// activity), or escalate it (to an incident). Each move is audited with
// who made it.
//
// Enforces CP-3.2, CP-8.1: every alert is seen and decided by a person, and
// the decision is on record.
func (s *Service) SetState(ctx context.Context, id, state, reason, by string) error {
	reason = strings.TrimSpace(reason)
	if _, ok := transitions[state]; !ok {
		return apperr.Errorf(apperr.Invalid, "%q is not a triage decision: acknowledge, dismiss or escalate.", state)
	}
	if state == StateDismissed && reason == "" {
		return apperr.New(apperr.Invalid, "Say why the alert is dismissed (a false positive, a test, activity you know of): the reason is kept with it.")
	}
	if len(reason) > 1000 {
		return apperr.New(apperr.Invalid, "Please keep the reason under 1,000 characters.")
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		return s.setState(ctx, tx, id, state, reason, by, nil)
	})
}

// setState is SetState inside tx; extra goes into the audit event's
// details (the incident an alert was escalated to).
func (s *Service) setState(ctx context.Context, tx *db.Tx, id, state, reason, by string, extra map[string]any) error {
	from := transitions[state]
	var cur string
	err := tx.QueryRowContext(ctx, `SELECT state FROM alerts WHERE id = $1`, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoAlert
	}
	if err != nil {
		return err
	}
	if !contains(from, cur) {
		return apperr.Errorf(apperr.Conflict, "This alert is %s already: it cannot be moved to %s.", cur, state)
	}
	assign := ""
	if state == StateAcknowledged {
		assign = by // whoever acknowledges it has it
	}
	res, err := tx.ExecContext(ctx,
		`UPDATE alerts SET state = $1, state_reason = $2, updated_at = $3, updated_by = $4,
		   assigned_to = CASE WHEN $5 = '' THEN assigned_to ELSE $5 END
		 WHERE id = $6 AND state = $7`, state, reason, tx.Now(), by, assign, id, cur)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "Someone else moved this alert at the same moment: reload it.")
	}
	details := map[string]any{"from": cur, "reason_given": reason != ""}
	maps.Copy(details, extra)
	_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "alert." + verb(state), Target: "alert:" + id, Outcome: audit.Success,
		Details: details})
	return err
}

// Assign gives an open alert to a member of the security team.
func (s *Service) Assign(ctx context.Context, id, to string) error {
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET assigned_to = $1, updated_at = $2 WHERE id = $3 AND state IN ('new', 'acknowledged')`,
			to, tx.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "Only an open alert can be assigned.")
		}
		_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "alert.assign", Target: "alert:" + id, Outcome: audit.Success,
			Details: map[string]any{"to": to}})
		return err
	})
}

func verb(state string) string {
	switch state {
	case StateAcknowledged:
		return "acknowledge"
	case StateDismissed:
		return "dismiss"
	case StateEscalated:
		return "escalate"
	}
	return state
}
