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

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/identity"
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
	// Findings are the exercise's findings in the findings register
	// (source "exercise", source ID the exercise's), read back with it.
	Findings []findings.Finding
}

// Finding is something an exercise found to improve, as it is filed in
// the findings register: owned, due at the severity's remediation
// deadline or an agreed earlier date, tracked to closure there.
type Finding struct {
	Text     string // Markdown; its first line is the register's title
	Severity string // critical, high, medium or low; "" is medium
	Owner    string // account ID of a member of staff
	// Due is an agreed date for the fix, no later than the severity's
	// deadline (governance.remediation); zero is that deadline.
	Due time.Time
}

// Plan names the plan the exercise was held under, for people.
func (e Exercise) Plan() string { return planName(e.PlanVersion) }

// RecordExercise records a tabletop exercise or a drill held (outside
// Portico, or started here and now written up) with what it found, each
// filed in the findings register in the same transaction. The
// participants and the findings' owners must be staff accounts; it may
// not be held in the future.
//
// Enforces MTL-5.2.2: exercises of the response plan are recorded with
// who took part and what they found, each finding owned and due in the
// shared findings register.
func (s *Service) RecordExercise(ctx context.Context, e Exercise, found []Finding, by string) (Exercise, error) {
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
	e.Findings = nil
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		e.Findings = nil // a retried transaction starts again
		if e.HeldAt.After(tx.Now()) {
			return apperr.New(apperr.Invalid, "The exercise cannot be held in the future: record it once it has been.")
		}
		if err := s.insertExercise(ctx, tx, &e, len(found), by); err != nil {
			return err
		}
		for _, f := range found {
			filed, err := s.fileFinding(ctx, tx, e, f, by)
			if err != nil {
				return err
			}
			e.Findings = append(e.Findings, filed)
		}
		return nil
	})
	return e, err
}

// insertExercise checks the participants, stores e with the plan in force
// (and a new ID unless it has one), and audits it.
func (s *Service) insertExercise(ctx context.Context, tx *db.Tx, e *Exercise, found int, by string) error {
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
			"findings": found, "plan": e.PlanVersion, "incident": e.IncidentID}})
	return err
}

// AddFinding files a finding of an exercise (a drill's, once it has run)
// in the findings register, in the same transaction that checks the
// exercise. It is closed there (findings.Service.Resolve, with the
// evidence of what was done), and its overdue alert is the register's.
//
// Enforces MTL-5.2.2, MTL-4.3.2: each finding of an exercise is in the
// shared findings register, with an owner, a severity and a due date.
func (s *Service) AddFinding(ctx context.Context, exerciseID string, f Finding, by string) (findings.Finding, error) {
	var filed findings.Finding
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		e, err := s.exerciseRow(ctx, tx, exerciseID)
		if err != nil {
			return err
		}
		filed, err = s.fileFinding(ctx, tx, e, f, by)
		return err
	})
	return filed, err
}

// fileFinding files what exercise e found in the findings register,
// inside tx: source "exercise" with the exercise's ID, titled by the
// first line of the text, medium unless a severity is given, owned by a
// member of staff, due at the agreed date if one is given.
func (s *Service) fileFinding(ctx context.Context, tx *db.Tx, e Exercise, f Finding, by string) (findings.Finding, error) {
	if s.findings == nil {
		return findings.Finding{}, errors.New("incident: no findings register (SetFindings)")
	}
	f.Text = strings.TrimSpace(f.Text)
	if f.Text == "" || utf8.RuneCountInString(f.Text) > maxFinding {
		return findings.Finding{}, apperr.Errorf(apperr.Invalid, "Say what the finding is, in up to %d characters.", maxFinding)
	}
	if f.Severity == "" {
		f.Severity = "medium"
	}
	if strings.TrimSpace(f.Owner) == "" {
		// The register allows an unassigned finding; an exercise's has
		// an owner from the start.
		return findings.Finding{}, apperr.Errorf(apperr.Invalid, "The finding %q needs an owner who is a member of staff.", short(f.Text))
	}
	filed, err := s.findings.File(ctx, tx, findings.NewFinding{SourceKind: findings.SourceExercise, SourceID: e.ID,
		Title: findingTitle(f.Text), Description: f.Text, Severity: f.Severity, Owner: f.Owner, DueAt: f.Due, By: by})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Invalid {
			// Say which finding of the exercise it was.
			return findings.Finding{}, apperr.Errorf(apperr.Invalid, "The finding %q: %s", short(f.Text), apperr.MessageOf(err))
		}
		return findings.Finding{}, err
	}
	return filed, nil
}

// findingTitle is the register's title for an exercise's finding: the
// first line of its text, within findings.MaxTitle.
func findingTitle(text string) string {
	title, _, _ := strings.Cut(text, "\n")
	title = strings.TrimSpace(title)
	if r := []rune(title); len(r) > findings.MaxTitle {
		title = string(r[:findings.MaxTitle-1]) + "…"
	}
	return title
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
	if len(out) == 0 {
		return out, nil
	}
	fs, err := s.exerciseFindings(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if i, ok := byID[f.SourceID]; ok {
			out[i].Findings = append(out[i].Findings, f)
		}
	}
	return out, nil
}

// ErrNoExercise answers for an exercise that does not exist.
var ErrNoExercise = apperr.New(apperr.NotFound, "There is no such exercise.")

// Exercise returns one exercise with its findings from the register.
func (s *Service) Exercise(ctx context.Context, id string) (Exercise, error) {
	e, err := s.exerciseRow(ctx, s.db, id)
	if err != nil {
		return e, err
	}
	e.Findings, err = s.exerciseFindings(ctx, id)
	return e, err
}

// exerciseRow reads one exercise, without its findings.
func (s *Service) exerciseRow(ctx context.Context, q reader, id string) (Exercise, error) {
	e, err := scanExercise(q.QueryRowContext(ctx, `SELECT `+exerciseCols+` FROM incident_exercises WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNoExercise
	}
	return e, err
}

// exerciseFindings lists an exercise's findings in the register (every
// exercise's with ""), the open first, then the first due.
func (s *Service) exerciseFindings(ctx context.Context, exerciseID string) ([]findings.Finding, error) {
	if s.findings == nil {
		return nil, errors.New("incident: no findings register (SetFindings)")
	}
	return s.findings.List(ctx, findings.Filter{Source: findings.SourceExercise, SourceID: exerciseID})
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
		if err := s.insertExercise(ctx, tx, &e, 0, by); err != nil {
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
