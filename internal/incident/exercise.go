package incident

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Kinds of exercise.
const (
	ExerciseTabletop = "tabletop" // the team walks through a scenario on paper
	ExerciseDrill    = "drill"    // the team runs a real incident, marked as an exercise
)

// Bounds on what an exercise holds.
const (
	maxScenario = 4000
	maxFinding  = 4000
	maxNote     = 4000
)

// Exercise is a tabletop exercise or a drill of the response plan.
type Exercise struct {
	ID, Kind string
	// Scenario is what was exercised (Markdown).
	Scenario string
	HeldAt   time.Time
	// Participants are the account IDs of the staff who took part.
	Participants []string
	// PlanVersion is the plan in force when it was recorded.
	PlanVersion string
	// IncidentID is a drill's incident, when it was started in Portico.
	IncidentID string
	CreatedAt  time.Time
	CreatedBy  string
	Findings   []Finding
}

// Finding is something an exercise found to improve, owned and due,
// open until closed with a note.
type Finding struct {
	ID, ExerciseID string
	Text           string // Markdown
	Owner          string // account ID
	Due            time.Time
	CreatedAt      time.Time
	CreatedBy      string
	ClosedAt       time.Time
	ClosedBy       string
	ClosingNote    string
}

// Plan names the plan the exercise was held under, for people.
func (e Exercise) Plan() string { return planName(e.PlanVersion) }

// Closed reports whether the finding was closed.
func (f Finding) Closed() bool { return !f.ClosedAt.IsZero() }

// OverdueAt reports whether the finding is still open after its due date.
func (f Finding) OverdueAt(now time.Time) bool { return !f.Closed() && now.After(f.Due) }

// RecordExercise records a tabletop exercise or a drill held (outside
// Portico, or started here and now written up) with its findings. The
// participants and the findings' owners must be staff accounts; it may
// not be held in the future, and a finding is due after it was held.
//
// Enforces MTL-5.2.2: exercises of the response plan are recorded with
// who took part and what they found, each finding owned and due.
func (s *Service) RecordExercise(ctx context.Context, e Exercise, by string) (Exercise, error) {
	e.Scenario = strings.TrimSpace(e.Scenario)
	switch {
	case e.Kind != ExerciseTabletop && e.Kind != ExerciseDrill:
		return Exercise{}, apperr.New(apperr.Invalid, "Choose a tabletop exercise or a drill.")
	case e.Scenario == "" || utf8.RuneCountInString(e.Scenario) > maxScenario:
		return Exercise{}, apperr.Errorf(apperr.Invalid, "Describe the scenario in up to %d characters.", maxScenario)
	case e.HeldAt.IsZero():
		return Exercise{}, apperr.New(apperr.Invalid, "Say when the exercise was held.")
	case len(e.Participants) == 0:
		return Exercise{}, apperr.New(apperr.Invalid, "Name who took part.")
	}
	e.ID, e.IncidentID = "", "" // a drill's incident is StartDrill's
	e.HeldAt = db.Time(e.HeldAt)
	e.Participants = uniq(e.Participants)
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if e.HeldAt.After(tx.Now()) {
			return apperr.New(apperr.Invalid, "The exercise cannot be held in the future: record it once it has been.")
		}
		if err := s.insertExercise(ctx, tx, &e, by); err != nil {
			return err
		}
		for i := range e.Findings {
			if err := s.insertFinding(ctx, tx, e, &e.Findings[i], by); err != nil {
				return err
			}
		}
		return nil
	})
	return e, err
}

// insertExercise checks the participants, stores e with the plan in force
// (and a new ID unless it has one), and audits it.
func (s *Service) insertExercise(ctx context.Context, tx *db.Tx, e *Exercise, by string) error {
	for _, p := range e.Participants {
		if ok, err := staffMember(ctx, tx, p); err != nil {
			return err
		} else if !ok {
			return apperr.Errorf(apperr.Invalid, "%q is not a member of staff: participants are staff accounts.", p)
		}
	}
	plan, err := s.planInForce(ctx, tx)
	if err != nil {
		return err
	}
	if e.ID == "" {
		e.ID = newID()
	}
	e.PlanVersion, e.CreatedAt, e.CreatedBy = plan.Version, tx.Now(), by
	people, _ := json.Marshal(e.Participants)
	var incident any
	if e.IncidentID != "" {
		incident = e.IncidentID
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO incident_exercises (id, kind, scenario, held_at, participants, plan_version, incident_id, created_at, created_by)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, e.Kind, e.Scenario, e.HeldAt, string(people), e.PlanVersion, incident, e.CreatedAt, by); err != nil {
		return err
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.exercise_record", Target: "incident_exercise:" + e.ID, Outcome: audit.Success,
		Details: map[string]any{"kind": e.Kind, "held_at": e.HeldAt.Format(time.RFC3339), "participants": len(e.Participants),
			"findings": len(e.Findings), "plan": e.PlanVersion, "incident": e.IncidentID}})
	return err
}

// AddFinding adds a finding to an exercise (a drill's, once it has run).
//
// Enforces MTL-5.2.2: each finding has an owner and a due date.
func (s *Service) AddFinding(ctx context.Context, exerciseID string, f Finding, by string) (Finding, error) {
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		e, err := s.exercise(ctx, tx, exerciseID)
		if err != nil {
			return err
		}
		return s.insertFinding(ctx, tx, e, &f, by)
	})
	return f, err
}

func (s *Service) insertFinding(ctx context.Context, tx *db.Tx, e Exercise, f *Finding, by string) error {
	f.Text = strings.TrimSpace(f.Text)
	switch {
	case f.Text == "" || utf8.RuneCountInString(f.Text) > maxFinding:
		return apperr.Errorf(apperr.Invalid, "Say what the finding is, in up to %d characters.", maxFinding)
	case f.Due.IsZero():
		return apperr.Errorf(apperr.Invalid, "Give the finding %q a due date.", short(f.Text))
	case f.Due.Before(e.HeldAt):
		return apperr.Errorf(apperr.Invalid, "The finding %q cannot be due before the exercise was held.", short(f.Text))
	}
	if ok, err := staffMember(ctx, tx, f.Owner); err != nil {
		return err
	} else if !ok {
		return apperr.Errorf(apperr.Invalid, "The finding %q needs an owner who is a member of staff.", short(f.Text))
	}
	f.ID, f.ExerciseID, f.Due, f.CreatedAt, f.CreatedBy = newID(), e.ID, db.Time(f.Due), tx.Now(), by
	f.ClosedAt, f.ClosedBy, f.ClosingNote = time.Time{}, "", ""
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO incident_findings (id, exercise_id, body, owner, due_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		f.ID, e.ID, f.Text, f.Owner, f.Due, f.CreatedAt, by); err != nil {
		return err
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.finding_add", Target: "incident_finding:" + f.ID, Outcome: audit.Success,
		Details: map[string]any{"exercise": e.ID, "owner": f.Owner, "due": f.Due.Format(time.RFC3339)}})
	return err
}

// CloseFinding closes an open finding with a note saying what was done.
//
// Enforces MTL-5.2.2: findings are tracked to closure, by whom and how.
func (s *Service) CloseFinding(ctx context.Context, findingID, note, by string) error {
	note = strings.TrimSpace(note)
	if note == "" || utf8.RuneCountInString(note) > maxNote {
		return apperr.Errorf(apperr.Invalid, "Say what was done about the finding, in up to %d characters.", maxNote)
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE incident_findings SET closed_at = $1, closed_by = $2, closing_note = $3 WHERE id = $4 AND closed_at IS NULL`,
			tx.Now(), by, note, findingID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var closed sql.NullTime
			if err := tx.QueryRowContext(ctx, `SELECT closed_at FROM incident_findings WHERE id = $1`, findingID).Scan(&closed); errors.Is(err, sql.ErrNoRows) {
				return apperr.New(apperr.NotFound, "There is no such finding.")
			} else if err != nil {
				return err
			}
			return apperr.New(apperr.Conflict, "This finding is already closed.")
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.finding_close", Target: "incident_finding:" + findingID, Outcome: audit.Success})
		return err
	})
}

// Exercises lists every exercise, the latest held first, with its
// findings.
func (s *Service) Exercises(ctx context.Context) ([]Exercise, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+exerciseCols+` FROM incident_exercises ORDER BY held_at DESC, created_at DESC`)
	if err != nil {
		return nil, err
	}
	var out []Exercise
	byID := map[string]int{}
	for rows.Next() {
		e, err := scanExercise(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		byID[e.ID] = len(out)
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fs, err := s.findings(ctx, s.db, "")
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if i, ok := byID[f.ExerciseID]; ok {
			out[i].Findings = append(out[i].Findings, f)
		}
	}
	return out, nil
}

// ErrNoExercise answers for an exercise that does not exist.
var ErrNoExercise = apperr.New(apperr.NotFound, "There is no such exercise.")

// Exercise returns one exercise with its findings.
func (s *Service) Exercise(ctx context.Context, id string) (Exercise, error) {
	return s.exercise(ctx, s.db, id)
}

func (s *Service) exercise(ctx context.Context, q reader, id string) (Exercise, error) {
	e, err := scanExercise(q.QueryRowContext(ctx, `SELECT `+exerciseCols+` FROM incident_exercises WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNoExercise
	}
	if err != nil {
		return e, err
	}
	e.Findings, err = s.findings(ctx, q, id)
	return e, err
}

// NextExerciseDue is when the next exercise is due: the last one held
// plus incident.exercise_interval; when none was ever held, the
// installation's start (its first account) plus the interval, so a new
// installation has one interval to hold its first.
func (s *Service) NextExerciseDue(ctx context.Context) (time.Time, error) {
	last, err := s.lastHeld(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if last.IsZero() {
		err := s.db.QueryRowContext(ctx, `SELECT created_at FROM accounts ORDER BY created_at LIMIT 1`).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return db.Time(s.db.Now().Add(s.profile.Incident.ExerciseInterval.Duration)), nil
		}
		if err != nil {
			return time.Time{}, err
		}
	}
	return db.Time(last.Add(s.profile.Incident.ExerciseInterval.Duration)), nil
}

// lastHeld is when the last exercise was held, zero when none was.
func (s *Service) lastHeld(ctx context.Context) (time.Time, error) {
	var last time.Time
	err := s.db.QueryRowContext(ctx, `SELECT held_at FROM incident_exercises ORDER BY held_at DESC LIMIT 1`).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return last, err
}

// Overdue reports whether the response plan's exercise is overdue at now:
// past NextExerciseDue.
//
// Enforces MTL-5.2.2: the plan is exercised at the profile's interval,
// and it shows when it is not.
func (s *Service) Overdue(ctx context.Context, now time.Time) (bool, error) {
	due, err := s.NextExerciseDue(ctx)
	if err != nil {
		return false, err
	}
	return now.After(due), nil
}

// StartDrill opens a real incident marked as a drill of the response
// plan, under the plan in force, and records the drill (held now, with
// by taking part). The incident runs like any other, but it is marked
// (exercise_id) from the transaction that opens it: its notices go only
// to staff test accounts (IsExercise).
//
// Enforces MTL-5.2.2: drills run the real procedure, kept apart from real
// incidents.
func (s *Service) StartDrill(ctx context.Context, scenario, by string) (Incident, error) {
	scenario = strings.TrimSpace(scenario)
	if scenario == "" || utf8.RuneCountInString(scenario) > maxScenario {
		return Incident{}, apperr.Errorf(apperr.Invalid, "Describe the drill's scenario in up to %d characters.", maxScenario)
	}
	title, _, _ := strings.Cut(scenario, "\n")
	if r := []rune(title); len(r) > 180 {
		title = string(r[:180]) + "…"
	}
	exID := newID()
	inc, err := s.Open(ctx, NewIncident{Title: "Drill: " + strings.TrimSpace(title), Severity: "low", Category: "exercise", exercise: exID}, by)
	if err != nil {
		return Incident{}, err
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		e := Exercise{ID: exID, Kind: ExerciseDrill, Scenario: scenario, HeldAt: inc.CreatedAt, Participants: []string{by}, IncidentID: inc.ID}
		if err := s.insertExercise(ctx, tx, &e, by); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.drill_start", Target: "incident:" + inc.ID, Outcome: audit.Success,
			Details: map[string]any{"exercise": exID}})
		return err
	})
	return inc, err
}

// IsExercise reports whether the incident is a drill's: its notices must
// go only to staff test accounts.
func (s *Service) IsExercise(ctx context.Context, incidentID string) (bool, error) {
	var ex sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT exercise_id FROM incidents WHERE id = $1`, incidentID).Scan(&ex); err != nil {
		return false, notFound(err)
	}
	return ex.Valid && ex.String != "", nil
}

// PhaseTime is when a drill's incident reached a phase, and how long
// after it was opened.
type PhaseTime struct {
	Phase string
	At    time.Time
	After time.Duration
}

// DrillTimes gives the time from a drill's opening to each phase it
// reached, read from the audit trail (the incident.open and
// incident.phase events of its timeline), in order; the first is
// detected, at zero.
//
// Enforces MTL-5.2.2: a drill measures how fast the team moves through
// the plan.
func (s *Service) DrillTimes(ctx context.Context, exerciseID string) ([]PhaseTime, error) {
	e, err := s.Exercise(ctx, exerciseID)
	if err != nil {
		return nil, err
	}
	if e.IncidentID == "" {
		return nil, apperr.New(apperr.Conflict, "This exercise has no incident in Portico: only a drill started here is timed.")
	}
	events, err := s.Timeline(ctx, e.IncidentID)
	if err != nil {
		return nil, err
	}
	var out []PhaseTime
	var opened time.Time
	for _, ev := range events {
		at, err := time.Parse(time.RFC3339Nano, ev.At)
		if err != nil {
			return nil, err
		}
		switch ev.Action {
		case "incident.open":
			opened = at
			out = append(out, PhaseTime{Phase: PhaseDetected, At: at})
		case "incident.phase":
			if opened.IsZero() {
				continue
			}
			var d struct{ To string }
			if err := json.Unmarshal(ev.Details, &d); err != nil {
				return nil, err
			}
			out = append(out, PhaseTime{Phase: d.To, At: at, After: at.Sub(opened)})
		}
	}
	return out, nil
}

const exerciseCols = `id, kind, scenario, held_at, participants, plan_version, incident_id, created_at, created_by`

func scanExercise(row interface{ Scan(...any) error }) (Exercise, error) {
	var e Exercise
	var people string
	var incident sql.NullString
	if err := row.Scan(&e.ID, &e.Kind, &e.Scenario, &e.HeldAt, &people, &e.PlanVersion, &incident, &e.CreatedAt, &e.CreatedBy); err != nil {
		return e, err
	}
	e.IncidentID = incident.String
	return e, json.Unmarshal([]byte(people), &e.Participants)
}

// findings lists an exercise's findings (every exercise's with ""), the
// first due first.
func (s *Service) findings(ctx context.Context, q reader, exerciseID string) ([]Finding, error) {
	query := `SELECT id, exercise_id, body, owner, due_at, created_at, created_by, closed_at, closed_by, closing_note FROM incident_findings`
	var args []any
	if exerciseID != "" {
		query += ` WHERE exercise_id = $1`
		args = append(args, exerciseID)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY due_at, created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		var closedAt sql.NullTime
		var closedBy sql.NullString
		if err := rows.Scan(&f.ID, &f.ExerciseID, &f.Text, &f.Owner, &f.Due, &f.CreatedAt, &f.CreatedBy, &closedAt, &closedBy, &f.ClosingNote); err != nil {
			return nil, err
		}
		f.ClosedAt, f.ClosedBy = closedAt.Time, closedBy.String
		out = append(out, f)
	}
	return out, rows.Err()
}

// staffMember reports whether id is an active account of staff.
func staffMember(ctx context.Context, q querier, id string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = $1 AND role <> 'customer' AND status = 'active'`, id).Scan(&n)
	return n > 0, err
}

// StaffMember is a member of staff, for the pages' choices of owners and
// participants.
type StaffMember struct{ ID, Role string }

// Staff lists the active members of staff, the security team first.
func (s *Service) Staff(ctx context.Context) ([]StaffMember, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, role FROM accounts WHERE role <> 'customer' AND status = 'active'
		ORDER BY CASE WHEN role = 'security' THEN 0 ELSE 1 END, role, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StaffMember
	for rows.Next() {
		var m StaffMember
		if err := rows.Scan(&m.ID, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// uniq drops empty and repeated IDs, keeping the order.
func uniq(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// short is the start of a text, for a message.
func short(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}
