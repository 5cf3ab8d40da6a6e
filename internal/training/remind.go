package training

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
)

// Kinds of reminder (training_reminders.kind).
const (
	RemindBefore  = "before"  // ahead of the due date
	RemindDue     = "due"     // on the due date: the restriction starts
	RemindOverdue = "overdue" // the alert to the security team
)

// maxLead is the longest a reminder comes ahead of the due date; a short
// interval brings it closer (a tenth of the interval).
const maxLead = 14 * 24 * time.Hour

// lead is how long before the due date the first reminder goes.
func (s *Service) lead() time.Duration {
	return min(maxLead, s.profile.Governance.TrainingInterval.Duration/10)
}

// staffMember is what the reminders need of an account.
type staffMember struct {
	id  string
	due time.Time
}

// activeStaff lists the active staff accounts with their training's due
// date (identity.TrainingDue), contractors included.
func (s *Service) activeStaff(ctx context.Context) ([]staffMember, error) {
	ids, err := db.Strings(ctx, s.db, `SELECT id FROM accounts WHERE role <> 'customer' AND status = $1 ORDER BY id`, string(identity.StatusActive))
	if err != nil {
		return nil, err
	}
	var out []staffMember
	for _, id := range ids {
		a, err := s.identity.Account(ctx, id)
		if err != nil {
			return nil, err
		}
		if due := s.identity.TrainingDue(a); !due.IsZero() {
			out = append(out, staffMember{id: id, due: due})
		}
	}
	return out, nil
}

// Remind sends each active member of staff a reminder before their
// training falls due (RemindBefore: 14 days ahead, or a tenth of the
// interval if shorter) and one on the due date (RemindDue), and once it
// is overdue appends governance.overdue (kind "training") so that the
// security team sees an alert. Each goes once per member of staff and
// due date (training_reminders' primary key), audited with its delivery
// in one transaction. It returns how many it recorded.
//
// Enforces MTL-8.1: staff are reminded before their training falls due;
// CP-12: overdue training is an alert.
func (s *Service) Remind(ctx context.Context) (int, error) {
	staff, err := s.activeStaff(ctx)
	if err != nil {
		return 0, err
	}
	now := s.db.Now()
	n := 0
	var errs []error
	for _, m := range staff {
		var kinds []string
		switch {
		case !now.Before(m.due):
			kinds = []string{RemindDue, RemindOverdue}
		case !now.Before(m.due.Add(-s.lead())):
			kinds = []string{RemindBefore}
		}
		for _, k := range kinds {
			sent, err := s.remindOnce(ctx, m, k)
			if err != nil {
				// One account's failure does not hold back the others';
				// it is tried again on the next pass.
				errs = append(errs, err)
				break
			}
			if sent {
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

// remindOnce records and delivers one reminder, or the overdue alert,
// unless it was recorded already (by an earlier pass or another node).
func (s *Service) remindOnce(ctx context.Context, m staffMember, kind string) (bool, error) {
	due := m.due.UTC().Format(time.RFC3339)
	sent := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		sent = false
		res, err := tx.ExecContext(ctx, `INSERT INTO training_reminders (account_id, due, kind, sent_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (account_id, due, kind) DO NOTHING`, m.id, due, kind, tx.Now())
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return nil
		}
		sent = true
		if kind == RemindOverdue {
			// Enforces CP-12: detection raises governance_overdue from
			// this event; the summary names nobody.
			_, err := s.audit.Append(ctx, tx, audit.Event{Action: "governance.overdue", Target: "training:" + m.id, Outcome: audit.Success,
				Details: map[string]any{"kind": "training", "due": due,
					"summary": "A member of staff's security-awareness training is overdue: they work in restricted mode until it is done."}})
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "training.reminder", Target: "account:" + m.id, Outcome: audit.Success,
			Details: map[string]any{"kind": kind, "due": due}}); err != nil {
			return err
		}
		title, body := s.reminderText(kind, m.due)
		return s.identity.NotifyAccount(ctx, tx, m.id, "training.reminder", title, body)
	})
	return sent, err
}

// reminderText is a reminder's notice.
func (s *Service) reminderText(kind string, due time.Time) (title, body string) {
	day := due.UTC().Format("2 January 2006")
	// No link to follow: the training teaches staff to open Portico from
	// their bookmark, and the reminder does as it teaches.
	where := "\n\nOpen Portico from your bookmark, as you always do, and go to your training at /training (linked from your account page). This message never asks for your password or a code."
	if kind == RemindBefore {
		return "Your security training is due on " + day,
			"Your security-awareness training is due on " + day + ". If it is not done by then, from that day you can use only your own account pages until it is." + where
	}
	return "Your security training is due today",
		"Your security-awareness training was due on " + day + ". Until you pass your modules, you can use only your own account pages." + where
}

// remindLease is the name of the reminders' lease (db.TakeLease).
const remindLease = "training.reminders"

// Run installs the built-in modules, then sends the reminders (Remind) at
// once and every interval until ctx ends, on one node at a time under the
// lease training.reminders, held for three intervals. Errors are logged
// (nil logger: the default) and tried again at the next tick.
//
// Enforces MTL-8.1: reminders go out while Portico runs, from one node.
func (s *Service) Run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	s.db.RunLeased(audit.WithActor(ctx, audit.ActorSystem), remindLease, every, logger, "training reminders", func(ctx context.Context) error {
		// The built-in modules are installed on the first pass; a failed
		// installation is tried again on the next.
		if _, err := s.InstallDefaults(ctx); err != nil {
			return err
		}
		_, err := s.Remind(ctx)
		return err
	})
}
