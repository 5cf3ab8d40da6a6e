package identity

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// maxTrainingNote bounds the note kept with training recorded by hand.
const maxTrainingNote = 500

// RecordTrainingWithNote records training done outside Portico (a course,
// a session given in person) with the administrator's note saying what it
// was, kept with the record (accounts.training_note) and shown on the
// account's page. Otherwise as RecordTraining.
//
// Enforces CP-12, MTL-8.1: the record lifts the restricted mode of overdue
// training; it is audited with the old and new date, and with whether a
// note was kept.
func (s *Service) RecordTrainingWithNote(ctx context.Context, actor access.Principal, id string, at time.Time, note string) error {
	if err := manage(actor, access.UserManage, id); err != nil {
		return err
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > maxTrainingNote {
		return apperr.Errorf(apperr.Invalid, "Keep the note to %d characters.", maxTrainingNote)
	}
	return s.recordTraining(ctx, id, at, note)
}

// TrainingNote is the note kept with a staff member's last training
// recorded by hand ("" for none, or when the modules recorded it).
func (s *Service) TrainingNote(ctx context.Context, id string) (string, error) {
	var note string
	err := s.db.QueryRowContext(ctx, `SELECT training_note FROM accounts WHERE id = $1`, id).Scan(&note)
	if err == sql.ErrNoRows {
		return "", errNoAccount
	}
	return note, err
}

// CompleteTraining records, inside tx, that a member of staff completed
// their security-awareness training at at by passing every module
// assigned to their role (internal/training). A date earlier than the
// one recorded changes nothing: the record never goes back.
//
// Enforces CP-12, MTL-8.1: the record is what TrainingOverdue checks, so
// it lifts the restricted mode at once; it is audited like RecordTraining
// with the old and new date, in the transaction of the passing attempt.
func (s *Service) CompleteTraining(ctx context.Context, tx *db.Tx, id string, at time.Time) (bool, error) {
	var role string
	var old sql.NullTime
	if err := tx.QueryRowContext(ctx, `SELECT role, training_completed_at FROM accounts WHERE id = $1`, id).Scan(&role, &old); err != nil {
		if err == sql.ErrNoRows {
			return false, errNoAccount
		}
		return false, err
	}
	if !access.Role(role).IsStaff() {
		return false, apperr.New(apperr.Invalid, "Training is recorded for staff accounts only.")
	}
	at = db.Time(at)
	if old.Valid && !at.After(old.Time) {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET training_completed_at = $1, training_note = '', updated_at = $2 WHERE id = $3`, at, tx.Now(), id); err != nil {
		return false, err
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.training.record", Target: "account:" + id, Outcome: audit.Success,
		Details: map[string]any{"old": dateOrNone(old.Time), "new": dateOrNone(at), "source": "modules"}})
	return err == nil, err
}
