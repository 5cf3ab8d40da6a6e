package training

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
)

// States of a module for a member of staff.
const (
	StateNotStarted = "not-started" // no attempt in the current interval
	StateFailed     = "failed"      // attempts in the interval, none passed
	StatePassed     = "passed"      // passed within the interval
)

// Status is where a member of staff stands on one module assigned to them.
type Status struct {
	Module Module
	State  string
	// PassedAt is their last pass within the training interval.
	PassedAt time.Time
	// Failed counts their failed attempts since the interval began
	// (since their last pass, when they passed).
	Failed int
}

// Progress is a member of staff's training: their modules and when the
// training is due (identity.TrainingDue).
type Progress struct {
	Modules []Status
	Due     time.Time
	Overdue bool
}

// Done reports whether every assigned module is passed.
func (p Progress) Done() bool {
	for _, m := range p.Modules {
		if m.State != StatePassed {
			return false
		}
	}
	return len(p.Modules) > 0
}

// Progress is the modules assigned to a member of staff's role, each with
// its state.
//
// Enforces MTL-8.1: modules are assigned by role (contractors are staff
// accounts and take their role's), and completion is tracked.
func (s *Service) Progress(ctx context.Context, accountID string) (Progress, error) {
	acct, err := s.identity.Account(ctx, accountID)
	if err != nil || !acct.Role.IsStaff() {
		return Progress{}, ErrNoModule
	}
	mods, err := s.assigned(ctx, s.db, acct.Role)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Due: s.identity.TrainingDue(acct), Overdue: s.identity.TrainingOverdue(acct)}
	for _, m := range mods {
		st, err := s.status(ctx, s.db, accountID, m)
		if err != nil {
			return Progress{}, err
		}
		p.Modules = append(p.Modules, st)
	}
	return p, nil
}

// since is the start of the current interval: a pass before it no longer
// counts.
func (s *Service) since(now time.Time) time.Time {
	return now.Add(-s.profile.Governance.TrainingInterval.Duration)
}

// status is one module's state for accountID.
func (s *Service) status(ctx context.Context, q reader, accountID string, m Module) (Status, error) {
	st := Status{Module: m, State: StateNotStarted}
	since := s.since(s.db.Now())
	var passed sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT taken_at FROM training_attempts WHERE account_id = $1 AND slug = $2 AND passed = $3 AND taken_at > $4
		ORDER BY taken_at DESC LIMIT 1`, accountID, m.Slug, true, since).Scan(&passed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, err
	}
	if passed.Valid {
		st.State, st.PassedAt, since = StatePassed, passed.Time, passed.Time
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM training_attempts WHERE account_id = $1 AND slug = $2 AND passed = $3 AND taken_at > $4`,
		accountID, m.Slug, false, since).Scan(&st.Failed); err != nil {
		return st, err
	}
	if st.State == StateNotStarted && st.Failed > 0 {
		st.State = StateFailed
	}
	return st, nil
}

// Lesson returns a module assigned to the member of staff, for them to
// take; another module is not found.
func (s *Service) Lesson(ctx context.Context, accountID, slug string) (Module, Status, error) {
	acct, err := s.identity.Account(ctx, accountID)
	if err != nil || !acct.Role.IsStaff() {
		return Module{}, Status{}, ErrNoModule
	}
	m, err := s.module(ctx, s.db, slug)
	if err != nil {
		return m, Status{}, err
	}
	if !m.Active || !m.For(acct.Role) {
		return Module{}, Status{}, ErrNoModule
	}
	st, err := s.status(ctx, s.db, accountID, m)
	return m, st, err
}

// Result is the outcome of one attempt.
type Result struct {
	Score  int // percent, rounded down
	Passed bool
	// Wrong are the numbers (from 1) of the questions answered wrong or
	// not at all: never which answer was right.
	Wrong []int
	// Completed is set when this pass completed every module assigned
	// and the training was recorded (the restriction, if any, is lifted).
	Completed bool
}

// Score marks answers (question index to choice index, both from 0;
// a missing question is wrong) against the quiz.
func Score(qs []Question, answers map[int]int, passMark int) Result {
	var r Result
	right := 0
	for i, q := range qs {
		if a, ok := answers[i]; ok && q.Right(a) {
			right++
		} else {
			r.Wrong = append(r.Wrong, i+1)
		}
	}
	if len(qs) > 0 {
		r.Score = right * 100 / len(qs)
	}
	r.Passed = r.Score >= passMark
	return r
}

// Submit marks a member of staff's answers to a module assigned to them
// and records the attempt (training.attempt, with the module, score and
// whether it passed; never the answers). A pass that leaves every module
// assigned to their role passed within the training interval records
// their training through identity.CompleteTraining in the same
// transaction, dated at the oldest of those passes, which lifts the
// restricted mode of overdue training at once.
//
// Enforces MTL-8.1, CP-12: staff complete training by passing its
// quizzes, and completion is the date the sign-in gate checks.
func (s *Service) Submit(ctx context.Context, accountID, slug string, answers map[int]int) (Result, error) {
	var res Result
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		res = Result{}
		var role string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM accounts WHERE id = $1 AND status = $2`, accountID, string(identity.StatusActive)).Scan(&role); err != nil {
			return ErrNoModule
		}
		m, err := s.module(ctx, tx, slug)
		if err != nil {
			return err
		}
		if !access.Role(role).IsStaff() || !m.Active || !m.For(access.Role(role)) {
			return ErrNoModule
		}
		for q, a := range answers {
			if q < 0 || q >= len(m.Questions) || a < 0 || a >= len(m.Questions[q].Choices) {
				return apperr.New(apperr.Invalid, "The answers do not match the quiz: it may have changed. Open the module again.")
			}
		}
		res = Score(m.Questions, answers, m.PassMark)
		now := tx.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO training_attempts (id, account_id, slug, version, score, passed, taken_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			newID(), accountID, m.Slug, m.Version, res.Score, res.Passed, now); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "training.attempt", Target: "training_module:" + m.Slug, Outcome: audit.Success,
			Details: map[string]any{"module": m.Slug, "version": m.Version, "score": res.Score, "passed": res.Passed}}); err != nil {
			return err
		}
		if !res.Passed {
			return nil
		}
		at, all, err := s.completedAt(ctx, tx, accountID, access.Role(role))
		if err != nil || !all {
			return err
		}
		res.Completed, err = s.identity.CompleteTraining(ctx, tx, accountID, at)
		return err
	})
	return res, err
}

// completedAt reports whether every module assigned to role is passed
// within the interval, and the oldest of those last passes: the day the
// training as a whole was complete.
func (s *Service) completedAt(ctx context.Context, tx *db.Tx, accountID string, role access.Role) (time.Time, bool, error) {
	mods, err := s.assigned(ctx, tx, role)
	if err != nil || len(mods) == 0 {
		return time.Time{}, false, err
	}
	var oldest time.Time
	for _, m := range mods {
		st, err := s.status(ctx, tx, accountID, m)
		if err != nil {
			return time.Time{}, false, err
		}
		if st.State != StatePassed {
			return time.Time{}, false, nil
		}
		if oldest.IsZero() || st.PassedAt.Before(oldest) {
			oldest = st.PassedAt
		}
	}
	return oldest, true, nil
}
