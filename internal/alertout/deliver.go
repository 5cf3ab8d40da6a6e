package alertout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/portico/portico/internal/db"
)

// Run delivers due alerts every interval until ctx ends. With no channel
// to send on it only waits for ctx: queued alerts stay in the outbox. A
// failed pass is logged and tried again at the next tick.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	if len(s.sendable) == 0 {
		s.log.Info("no alert channel to send on: alerts, if any are queued, stay in the outbox")
		<-ctx.Done()
		return
	}
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sent, failed, err := s.DeliverDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("alert delivery pass failed", "error", err)
		case sent+failed > 0:
			s.log.Info("alert delivery pass", "sent", sent, "failed", failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// claimed is an outbox row taken by one pass.
type claimed struct {
	id        string
	channel   Channel
	payload   []byte
	attempts  int // including this one
	createdAt time.Time
}

// outcome is what became of one attempt.
type outcome struct {
	sent   bool
	reason string // for last_error and the log: a fixed text, never the receiver's
}

// DeliverDue makes one delivery pass: it takes the due pending alerts of
// the channels it can send on, in batches, sends each, and records the
// outcome: sent, a retry after Config.Backoff, or failed for good once
// MaxAttempts are used up (logged as an error, without the payload). sent
// counts the alerts delivered and failed the attempts that did not deliver
// (retried later or given up).
//
// Each batch is leased: on PostgreSQL the rows are locked with FOR UPDATE
// SKIP LOCKED in a short transaction that stamps them with this pass's
// token and moves their next attempt past the lease, so a concurrent pass
// on any node skips them; SQLite has a single writer, which serialises the
// claims. Outcomes are recorded only while the token still matches. A node
// that dies mid-send leaves its rows due again when the lease ends, so
// delivery is at least once; receivers dedupe on the row ID
// (X-Portico-Event-Id, the syslog SD parameter event).
//
// Enforces CP-3.2, CP-8.1: alerts reach the security team's tools, retried
// until delivered; none is dropped silently.
func (s *Service) DeliverDue(ctx context.Context) (sent, failed int, err error) {
	if len(s.sendable) == 0 {
		return 0, 0, nil
	}
	sl := &syslogConn{s: s}
	defer sl.close()
	for ctx.Err() == nil {
		token := newID()
		batch, err := s.claim(ctx, token)
		if err != nil {
			return sent, failed, err
		}
		if len(batch) == 0 {
			break
		}
		st, fl := s.deliverBatch(ctx, token, batch, sl)
		sent, failed = sent+st, failed+fl
		if len(batch) < s.batchSize {
			break
		}
	}
	return sent, failed, nil
}

// claim leases up to batchSize due pending alerts of the sendable channels
// for token and counts the attempt.
func (s *Service) claim(ctx context.Context, token string) ([]claimed, error) {
	lock := ""
	if s.db.Dialect() == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	// The channel names are constants of this package, not input.
	names := make([]string, len(s.sendable))
	for i, ch := range s.sendable {
		names[i] = "'" + string(ch) + "'"
	}
	var out []claimed
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		out = out[:0]
		now := tx.Now()
		rows, err := tx.QueryContext(ctx,
			`UPDATE alert_outbox SET claimed_by = $1, next_attempt_at = $2, attempts = attempts + 1
			 WHERE id IN (SELECT id FROM alert_outbox
			              WHERE status = 'pending' AND next_attempt_at <= $3 AND channel IN (`+strings.Join(names, ", ")+`)
			              ORDER BY next_attempt_at, id LIMIT $4`+lock+`)
			 RETURNING id, channel, payload, attempts, created_at`,
			token, now.Add(s.lease), now, s.batchSize)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			var ch, payload string
			if err := rows.Scan(&c.id, &ch, &payload, &c.attempts, &c.createdAt); err != nil {
				return err
			}
			c.channel, c.payload, c.createdAt = Channel(ch), []byte(payload), c.createdAt.UTC()
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("alertout: claim due alerts: %w", err)
	}
	// RETURNING has no order; send the oldest first.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].createdAt.Equal(out[j].createdAt) {
			return out[i].createdAt.Before(out[j].createdAt)
		}
		return out[i].id < out[j].id
	})
	return out, nil
}

// deliverBatch sends a claimed batch and records each outcome. Alerts it
// cannot get to (ctx ended, lease running out) are released for the next
// pass without using up an attempt.
func (s *Service) deliverBatch(ctx context.Context, token string, batch []claimed, sl *syslogConn) (sent, failed int) {
	// Outcomes are recorded even when ctx ends mid-batch: an alert that the
	// receiver took must be marked sent, or it would be sent again.
	rec := context.WithoutCancel(ctx)
	// Stop sending while a whole delivery still fits in the lease, measured
	// on this process's monotonic clock.
	stopAt := time.Now().Add(s.lease - 3*s.timeout)
	for i, a := range batch {
		if ctx.Err() != nil || time.Now().After(stopAt) {
			s.release(rec, token, batch[i:])
			return sent, failed
		}
		var o outcome
		switch {
		case a.attempts > s.maxAttempts:
			// The pass that made the last attempt ended before recording
			// it (a crash): the attempts are used up.
			o = outcome{reason: "attempts used up (the last attempt was interrupted)"}
		case a.channel == Webhook:
			o = s.sendWebhook(ctx, a)
		case a.channel == Syslog:
			o = sl.send(ctx, a)
		default:
			o = outcome{reason: "unknown channel"}
		}
		if !o.sent && ctx.Err() != nil {
			// Cut short by shutdown, not refused: try again next pass.
			s.release(rec, token, batch[i:])
			return sent, failed
		}
		s.record(rec, token, a, o)
		if o.sent {
			sent++
		} else {
			failed++
		}
	}
	return sent, failed
}

// recordTimeout bounds the recording of an outcome, which runs on after
// the pass's context ends.
const recordTimeout = 30 * time.Second

// record stores the outcome of one attempt, if this pass still holds the
// lease.
func (s *Service) record(ctx context.Context, token string, a claimed, o outcome) {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	final := o.sent || a.attempts >= s.maxAttempts
	retryIn := s.backoff(a.attempts)
	var held bool
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		var q string
		args := []any{a.id, token}
		switch {
		case o.sent:
			q = `UPDATE alert_outbox SET status = 'sent', sent_at = $3, last_error = '', claimed_by = NULL
			     WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`
			args = append(args, now)
		case final:
			q = `UPDATE alert_outbox SET status = 'failed', last_error = $3, claimed_by = NULL
			     WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`
			args = append(args, o.reason)
		default:
			q = `UPDATE alert_outbox SET next_attempt_at = $3, last_error = $4, claimed_by = NULL
			     WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`
			args = append(args, now.Add(retryIn), o.reason)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		held = err == nil && n == 1
		return err
	})
	log := s.log.With("alert_outbox_id", a.id, "channel", string(a.channel), "attempts", a.attempts)
	switch {
	case err != nil:
		// The row stays claimed; it is due again when the lease ends.
		log.Error("cannot record alert delivery outcome", "sent", o.sent, "error", err)
	case !held:
		log.Warn("alert delivery outcome not recorded: the lease was lost to another pass", "sent", o.sent)
	case o.sent:
		log.Info("alert sent")
	case final:
		log.Error("alert delivery failed for good: the security team's tools did not get this alert", "reason", o.reason)
	default:
		log.Warn("alert delivery failed; will retry", "reason", o.reason, "retry_in", retryIn.String())
	}
}

// release hands claimed alerts back without counting the attempt: they are
// due again at once, for this node or another.
func (s *Service) release(ctx context.Context, token string, batch []claimed) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		for _, a := range batch {
			if _, err := tx.ExecContext(ctx,
				`UPDATE alert_outbox SET attempts = attempts - 1, next_attempt_at = $3, claimed_by = NULL
				 WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`, a.id, token, tx.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("cannot release claimed alerts; they are due again when their lease ends", "count", len(batch), "error", err)
	}
}
