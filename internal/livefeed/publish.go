package livefeed

import (
	"context"
	"database/sql"
	"fmt"
)

// Execer runs a statement: a *db.Tx, or a *sql.DB or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// afterCommitter is what *db.Tx offers to run a step once committed.
type afterCommitter interface {
	AfterCommit(fn func() error)
}

// Publisher puts an event on the live feed of every node. Given a
// transaction, the event shows only once the transaction commits, and
// never if it rolls back, on both dialects.
type Publisher interface {
	Publish(ctx context.Context, ex Execer, e Event) error
}

// Local is the Publisher of a one-process deployment (SQLite): events go
// straight into the hub. ex is used only to wait for its commit when it
// is a *db.Tx; it may be nil.
type Local struct{ Hub *Hub }

// Publish puts e into the hub now, or after ex commits.
func (l Local) Publish(ctx context.Context, ex Execer, e Event) error {
	// Encode for the same ID, time and summary cut as on PostgreSQL.
	e, _, err := encode(e)
	if err != nil {
		return err
	}
	if tx, ok := ex.(afterCommitter); ok {
		tx.AfterCommit(func() error { l.Hub.Publish(e); return nil })
		return nil
	}
	l.Hub.Publish(e)
	return nil
}

// Notify sends e on a PostgreSQL notification channel with
// SELECT pg_notify(channel, json). Inside a transaction the notification
// goes out at commit. The payload stays under PostgreSQL's 8000-byte
// limit: Summary is cut (and ends in "…") when it has to be.
//
// Every event gets its own ID, so two events are never identical
// payloads, which PostgreSQL would fold into one within a transaction.
func Notify(ctx context.Context, ex Execer, channel string, e Event) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	_, payload, err := encode(e)
	if err != nil {
		return err
	}
	if _, err := ex.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, string(payload)); err != nil {
		return fmt.Errorf("live feed notify: %w", err)
	}
	return nil
}

// checkChannel accepts 1 to 63 characters of [a-z0-9_], starting with a
// letter: a name that LISTEN and pg_notify spell the same way.
func checkChannel(c string) error {
	ok := len(c) >= 1 && len(c) <= 63 && 'a' <= c[0] && c[0] <= 'z'
	for i := 0; ok && i < len(c); i++ {
		ok = c[i] == '_' || 'a' <= c[i] && c[i] <= 'z' || '0' <= c[i] && c[i] <= '9'
	}
	if !ok {
		return fmt.Errorf("live feed channel %q: want 1-63 characters of a-z, 0-9 and _, starting with a letter", c)
	}
	return nil
}
