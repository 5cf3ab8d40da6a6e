package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/portico/portico/internal/db"
)

// Prune removes events older than before from the start of the chain, at
// most max of them, in one transaction, and returns how many went. It
// never removes the newest event. The prune is recorded first (audit_prunes:
// the last removed event and its hash, which the next event's prev_hash
// must match) and then appended to the chain as an "audit.prune" event, so
// that Verify checks the shortened chain from its new start and a prune
// cannot be faked by inserting a row alone.
//
// Enforces CP-5.2, CP-5.3: the trail is kept for its retention period and
// no longer, and stays tamper-evident.
func (l *Log) Prune(ctx context.Context, before time.Time, max int) (int, error) {
	n := 0
	err := l.db.Transact(ctx, func(tx *db.Tx) error {
		var lo, hi sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq) FROM audit_events`).Scan(&lo, &hi); err != nil {
			return err
		}
		if !lo.Valid {
			return nil
		}
		var keep sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(seq) FROM audit_events WHERE at >= $1`, before.UTC()).Scan(&keep); err != nil {
			return err
		}
		through := hi.Int64 - 1 // the newest event stays
		if keep.Valid {
			through = min(through, keep.Int64-1)
		}
		through = min(through, lo.Int64+int64(max)-1)
		if through < lo.Int64 {
			return nil
		}
		var hash []byte
		if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = $1`, through).Scan(&hash); err != nil {
			return fmt.Errorf("audit: prune: read event %d: %w", through, err)
		}
		count := int(through - lo.Int64 + 1)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_prunes (through_seq, through_hash, pruned_at, events) VALUES ($1, $2, $3, $4)`,
			through, hash, tx.Now(), count); err != nil {
			return fmt.Errorf("audit: prune: record: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq <= $1`, through)
		if err != nil {
			return fmt.Errorf("audit: prune: %w", err)
		}
		k, _ := res.RowsAffected()
		n = int(k)
		_, err = l.Append(WithActor(ctx, ActorSystem), tx, Event{Action: "audit.prune", Target: "audit:" + strconv.FormatInt(through, 10),
			Outcome: Success, Details: map[string]any{"through_seq": through, "through_hash": hex.EncodeToString(hash), "events": n,
				"before": before.UTC().Format(time.RFC3339)}})
		return err
	})
	return n, err
}

// pruneStart returns where the chain starts after prunes: the first seq
// and the prev_hash it must carry (seq 1 and the genesis hash without a
// prune). It checks that the latest prune is in the chain as an event.
func (l *Log) pruneStart(ctx context.Context) (int64, []byte, error) {
	var through int64
	var hash []byte
	err := l.db.QueryRowContext(ctx, `SELECT through_seq, through_hash FROM audit_prunes ORDER BY through_seq DESC LIMIT 1`).Scan(&through, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 1, make([]byte, hashSize), nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("audit: read prunes: %w", err)
	}
	return through + 1, hash, nil
}

// pruneRecorded reports whether the prune through seq through is an event
// of the chain (after it).
func (l *Log) pruneRecorded(ctx context.Context, through int64) (bool, error) {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'audit.prune' AND target = $1 AND seq > $2`,
		"audit:"+strconv.FormatInt(through, 10), through).Scan(&n)
	return n > 0, err
}
