package training

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Draft is a module as an administrator writes it: the quiz in the text
// format of format.go.
type Draft struct {
	Slug, Title, Lesson, Quiz string
	PassMark                  int
	Audience                  []access.Role
}

// build checks a draft and reads its quiz, naming the field to fix.
func (d Draft) build() (Module, error) {
	m := Module{Slug: strings.TrimSpace(d.Slug), Title: strings.TrimSpace(d.Title), Lesson: strings.ReplaceAll(d.Lesson, "\r\n", "\n"),
		QuizText: strings.ReplaceAll(d.Quiz, "\r\n", "\n"), PassMark: d.PassMark, Audience: d.Audience, Active: true}
	if err := m.check(); err != nil {
		return m, err
	}
	qs, err := ParseQuiz(m.QuizText)
	if err != nil {
		return m, apperr.InField("quiz", err)
	}
	m.Questions = qs
	return m, nil
}

// Create adds an administrator's module as version 1 of a new slug.
// A module that does not parse is refused with nothing written.
//
// Enforces MTL-8.1: administrators add modules of their own, audited.
func (s *Service) Create(ctx context.Context, d Draft, by string) (Module, error) {
	m, err := d.build()
	if err != nil {
		return m, err
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM training_modules WHERE slug = $1`, m.Slug).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.InField("slug", apperr.Errorf(apperr.Conflict, "A module named %q exists already: choose another short name, or edit that one.", m.Slug))
		}
		m.Version = 1
		return s.insert(ctx, tx, &m, by, "training.module_create")
	})
	return m, err
}

// Edit saves a new version of a module (the slug is kept; the version in
// use becomes the new one, active). Passes of earlier versions within the
// interval still count.
func (s *Service) Edit(ctx context.Context, slug string, d Draft, by string) (Module, error) {
	d.Slug = slug
	m, err := d.build()
	if err != nil {
		return m, err
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM training_modules WHERE slug = $1`, slug).Scan(&last); err != nil {
			return err
		}
		if !last.Valid {
			return ErrNoModule
		}
		m.Version = int(last.Int64) + 1
		return s.insert(ctx, tx, &m, by, "training.module_edit")
	})
	return m, err
}

func (s *Service) insert(ctx context.Context, tx *db.Tx, m *Module, by, action string) error {
	m.CreatedAt, m.CreatedBy = tx.Now(), by
	if _, err := tx.ExecContext(ctx, `INSERT INTO training_modules (slug, version, title, lesson, quiz, pass_mark, audience, active, builtin, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		m.Slug, m.Version, m.Title, m.Lesson, m.QuizText, m.PassMark, m.AudienceText(), true, false, m.CreatedAt, by); err != nil {
		return err
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "training_module:" + m.Slug, Outcome: audit.Success,
		Details: map[string]any{"version": m.Version, "pass_mark": m.PassMark, "audience": m.AudienceText(), "questions": len(m.Questions)}})
	return err
}

// SetActive deactivates a module (nobody is assigned it any more; passes
// are kept) or activates it again.
func (s *Service) SetActive(ctx context.Context, slug string, active bool) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE training_modules SET active = $1 WHERE slug = $2 AND `+latest+` AND active <> $1`, active, slug)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if _, err := s.module(ctx, tx, slug); err != nil {
				return err
			}
			return nil // already so
		}
		action := "training.module_deactivate"
		if active {
			action = "training.module_activate"
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "training_module:" + slug, Outcome: audit.Success})
		return err
	})
}

// StaffStatus is one member of staff's state on a module, or on their
// training as a whole, for the administrators.
type StaffStatus struct {
	AccountID  string
	Role       access.Role
	Contractor bool
	Due        time.Time
	Overdue    bool
	Status     Status
}

// ModuleSummary is a module with its completion: how many of the staff
// it is assigned to passed it within the interval.
type ModuleSummary struct {
	Module
	Passed, Assigned int
}

// Overview is the administrators' page: every module with its
// completion, and the staff whose training is overdue.
type Overview struct {
	Modules []ModuleSummary
	Overdue []StaffStatus
}

// Overview summarises completion across the active staff.
//
// Enforces MTL-8.1: completion is tracked per module and overdue staff
// are listed.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	var o Overview
	mods, err := s.Modules(ctx)
	if err != nil {
		return o, err
	}
	staff, err := s.staff(ctx)
	if err != nil {
		return o, err
	}
	for _, m := range mods {
		sum := ModuleSummary{Module: m}
		for _, st := range staff {
			if !m.Active || !m.For(st.Role) {
				continue
			}
			sum.Assigned++
			ms, err := s.status(ctx, s.db, st.AccountID, m)
			if err != nil {
				return o, err
			}
			if ms.State == StatePassed {
				sum.Passed++
			}
		}
		o.Modules = append(o.Modules, sum)
	}
	for _, st := range staff {
		if st.Overdue {
			o.Overdue = append(o.Overdue, st)
		}
	}
	return o, nil
}

// ModuleStaff is each active member of staff a module is assigned to,
// with their state on it.
func (s *Service) ModuleStaff(ctx context.Context, m Module) ([]StaffStatus, error) {
	staff, err := s.staff(ctx)
	if err != nil {
		return nil, err
	}
	var out []StaffStatus
	for _, st := range staff {
		if !m.For(st.Role) {
			continue
		}
		if st.Status, err = s.status(ctx, s.db, st.AccountID, m); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// staff lists the active staff accounts with their due dates.
func (s *Service) staff(ctx context.Context) ([]StaffStatus, error) {
	members, err := s.activeStaff(ctx)
	if err != nil {
		return nil, err
	}
	now := s.db.Now()
	var out []StaffStatus
	for _, m := range members {
		a, err := s.identity.Account(ctx, m.id)
		if err != nil {
			return nil, err
		}
		out = append(out, StaffStatus{AccountID: a.ID, Role: a.Role, Contractor: !a.ContractorUntil.IsZero(), Due: m.due, Overdue: !now.Before(m.due)})
	}
	return out, nil
}
