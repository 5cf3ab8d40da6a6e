package incident

import (
	"context"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Accounts carries out containment on accounts; identity.Responder
// implements it. Each call runs in the caller's transaction and audits
// itself.
type Accounts interface {
	Lock(ctx context.Context, tx *db.Tx, accountID, reason string) error
	EndCredentials(ctx context.Context, tx *db.Tx, accountID, reason string) error
	RequirePasswordChange(ctx context.Context, tx *db.Tx, accountID string, on bool) error
}

// Containment actions on the affected accounts.
const (
	ContainEndSessions   = "end_sessions"          // every session and API token ends (the credentials epoch)
	ContainForcePassword = "force_password_change" // a new password before anything else
	ContainLock          = "lock"                  // locked for the lockout's duration
)

// containBatch is how many accounts one transaction contains.
const containBatch = 200

// Contain takes one containment action on every affected account, in
// batches of containBatch accounts a transaction; each account's action is
// audited by identity, and each batch by an incident.contain event.
//
// Enforces CP-7.2: containment acts on the affected accounts in bulk,
// every action on the record.
func (s *Service) Contain(ctx context.Context, accounts Accounts, id, action, by string) (int, error) {
	do := map[string]func(ctx context.Context, tx *db.Tx, acct string) error{
		ContainEndSessions: func(ctx context.Context, tx *db.Tx, a string) error {
			return accounts.EndCredentials(ctx, tx, a, "incident")
		},
		ContainForcePassword: func(ctx context.Context, tx *db.Tx, a string) error {
			return accounts.RequirePasswordChange(ctx, tx, a, true)
		},
		ContainLock: func(ctx context.Context, tx *db.Tx, a string) error { return accounts.Lock(ctx, tx, a, "incident") },
	}[action]
	if do == nil {
		return 0, apperr.New(apperr.Invalid, "Contain by ending sessions, forcing a password change or locking the accounts.")
	}
	all, err := s.Affected(ctx, id)
	if err != nil {
		return 0, err
	}
	// A drill's containment is rehearsed, not carried out: its affected
	// set is the staff's own accounts (MTL-5.2.2).
	drill, err := s.IsExercise(ctx, id)
	if err != nil {
		return 0, err
	}
	if drill {
		do = func(context.Context, *db.Tx, string) error { return nil }
	}
	if len(all) == 0 {
		return 0, apperr.New(apperr.Conflict, "The incident has no affected customers yet: find them first.")
	}
	done := 0
	for start := 0; start < len(all); start += containBatch {
		batch := all[start:min(start+containBatch, len(all))]
		err := s.db.Transact(ctx, func(tx *db.Tx) error {
			if _, err := s.lockPhase(ctx, tx, id); err != nil {
				return err
			}
			for _, a := range batch {
				if err := do(ctx, tx, a); err != nil {
					return err
				}
			}
			_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.contain", Target: "incident:" + id, Outcome: audit.Success,
				Details: map[string]any{"action": action, "accounts": len(batch), "done_before": done, "drill": drill}})
			return err
		})
		if err != nil {
			return done, err
		}
		done += len(batch)
	}
	return done, nil
}
