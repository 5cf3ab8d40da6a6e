package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// PendingTTL is how long a held action waits for its session to
// re-authenticate: long enough to find a password manager, short enough
// that a forgotten tab does not carry out yesterday's click.
const PendingTTL = 10 * time.Minute

// Pending is a state-changing request that needed a fresh
// re-authentication (step-up), held on the server while the session
// proves it is still its owner: the path it was sent to and its form.
type Pending struct {
	ID        string
	Path      string
	Form      url.Values
	ExpiresAt time.Time
}

// ErrNoPending answers a held action that is unknown, used, expired or of
// another session: the same for all, so an ID reveals nothing.
var ErrNoPending = apperr.New(apperr.NotFound,
	"Your password is confirmed, but the action that was waiting for it is no longer there (it expired or was already done). Please do it again.")

func pendingField(id string) crypto.Field {
	return crypto.Field{Table: "pending_actions", Column: "form_enc", Row: id}
}

// Hold keeps a request for sess until it re-authenticates, and returns
// the ID that the confirmation page carries. The form is encrypted under
// the account's data key; a session holds one action at a time (the
// newest), so a page of clicks cannot pile up work to replay.
//
// Enforces MTL-3.2.2, CP-6.3: a step-up does not lose the action it
// protects, and the action stays bound to the session that asked for it.
func (s *Store) Hold(ctx context.Context, sess Session, path string, form url.Values) (string, error) {
	id := newPart()
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_actions WHERE session_id = $1`, sess.ID); err != nil {
			return err
		}
		enc, err := s.keys.Encrypt(ctx, tx, sess.AccountID, pendingField(id), []byte(form.Encode()))
		if err != nil {
			return err
		}
		now := tx.Now()
		_, err = tx.ExecContext(ctx,
			`INSERT INTO pending_actions (id, session_id, account_id, path, form_enc, created_at, expires_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			id, sess.ID, sess.AccountID, path, enc, now, now.Add(PendingTTL))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("session: hold an action: %w", err)
	}
	return id, nil
}

// Held returns sess's held action id without using it (for the page that
// asks for the password).
func (s *Store) Held(ctx context.Context, sess Session, id string) (Pending, error) {
	return s.pending(ctx, s.db, sess, id)
}

// Release takes sess's held action id for the one replay it gets: it is
// deleted in the same step, so two confirmations cannot both carry it out.
func (s *Store) Release(ctx context.Context, sess Session, id string) (Pending, error) {
	var p Pending
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		if p, err = s.pending(ctx, tx, sess, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM pending_actions WHERE id = $1 AND session_id = $2`, id, sess.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNoPending // taken by a concurrent confirmation
		}
		return nil
	})
	return p, err
}

func (s *Store) pending(ctx context.Context, q crypto.RowQuerier, sess Session, id string) (Pending, error) {
	p := Pending{ID: id}
	var enc []byte
	err := q.QueryRowContext(ctx,
		`SELECT path, form_enc, expires_at FROM pending_actions
		 WHERE id = $1 AND session_id = $2 AND account_id = $3 AND expires_at > $4`,
		id, sess.ID, sess.AccountID, s.db.Now()).Scan(&p.Path, &enc, &p.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Pending{}, ErrNoPending
	}
	if err != nil {
		return Pending{}, err
	}
	plain, err := s.keys.Decrypt(ctx, q, sess.AccountID, pendingField(id), enc)
	if err != nil {
		return Pending{}, err
	}
	if p.Form, err = url.ParseQuery(string(plain)); err != nil {
		return Pending{}, err
	}
	return p, nil
}

// sweepPending deletes held actions past their deadline.
func sweepPending(ctx context.Context, tx *db.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM pending_actions WHERE expires_at <= $1`, tx.Now())
	return err
}
