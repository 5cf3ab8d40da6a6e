package db

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"
	"time"
)

// TakeLease takes the lease called name for holder until now+d, if it is
// free, expired or already holder's (a renewal), and reports whether
// holder has it. Background jobs that must run on one node at a time (the
// retention purge, the detection rules) take one before each run; a node
// that dies leaves its lease to expire.
//
// Enforces MTL-1.1: a job runs on one node at a time, and a dead node's
// job is taken over when its lease ends.
func (d *DB) TakeLease(ctx context.Context, name, holder string, dur time.Duration) (bool, time.Time, error) {
	var got string
	var until time.Time
	err := d.Transact(ctx, func(tx *Tx) error {
		now := tx.Now()
		until = now.Add(dur)
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3)
			 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			 WHERE job_leases.expires_at < $4 OR job_leases.holder = excluded.holder`,
			name, holder, until, now); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT holder FROM job_leases WHERE name = $1`, name).Scan(&got)
	})
	if err != nil || got != holder {
		return false, time.Time{}, err
	}
	return true, until, nil
}

// ReleaseLease gives back the lease called name if holder has it: its
// expiry moves to now, so that any holder may take it at once.
func (d *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	return d.Transact(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE job_leases SET expires_at = $1 WHERE name = $2 AND holder = $3 AND expires_at > $1`,
			tx.Now(), name, holder)
		return err
	})
}

// RunLeased runs pass at once and then every interval until ctx ends, on
// one node at a time: before each pass it takes or renews the lease
// called name, held for three intervals so that a node that dies is
// replaced soon after, and skips the pass when another node holds it. A
// failed pass is logged as what failed (nil logger: the default) and
// tried again at the next tick. When ctx ends it gives the lease back.
// The background passes of incidents, findings, vendors, policy
// documents, training and the compliance evidence all run this way.
//
// Enforces MTL-1.1: each background pass runs on one node at a time, and
// goes on when that node dies, or at once when it stops.
func (d *DB) RunLeased(ctx context.Context, name string, every time.Duration, logger *slog.Logger, what string, pass func(context.Context) error) {
	if logger == nil {
		logger = slog.Default()
	}
	holder := strings.ToLower(rand.Text())
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, _, err := d.TakeLease(ctx, name, holder, 3*every)
		if err == nil && ok {
			err = pass(ctx)
		}
		if err != nil && ctx.Err() == nil {
			logger.Error(what+" failed; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			// A stopping node gives its lease back: otherwise the pass
			// would pause for up to three intervals, on the other nodes
			// and on this one once restarted (a new process is a new
			// holder): three hours for an hourly pass.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := d.ReleaseLease(rctx, name, holder); err != nil {
				logger.Warn(what+": lease not given back; it expires on its own", "error", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}
