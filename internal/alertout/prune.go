package alertout

import (
	"context"
	"fmt"
	"time"

	"github.com/portico/portico/internal/db"
)

// DefaultKeepSent is how long a delivered alert's row stays in the outbox:
// long enough to answer "did the SIEM get it?" about a recent alert. The
// alert itself stays in the alerts table.
const DefaultKeepSent = 30 * 24 * time.Hour

// pruneBatch bounds the rows one delete takes, so that a first prune of a
// large outbox does not hold the writer for long.
const pruneBatch = 500

// Prune deletes delivered alerts sent more than sent ago, and alerts that
// failed for good queued more than failed ago (0 keeps them all), and
// returns how many rows went. Pending rows are never touched. It runs from
// the server's maintenance loop; several nodes may run it at once.
//
// Enforces CP-8.1 with the retention of CP-5.2: the outbox keeps an alert
// until it is delivered or given up on, and afterwards only for as long as
// it is useful as evidence of delivery.
func (s *Service) Prune(ctx context.Context, sent, failed time.Duration) (int, error) {
	if sent <= 0 {
		return 0, fmt.Errorf("alertout: prune: keep sent alerts for a positive duration, not %s", sent)
	}
	total := 0
	for _, q := range []struct {
		where string
		keep  time.Duration
	}{
		{`status = 'sent' AND sent_at < $1`, sent},
		{`status = 'failed' AND created_at < $1`, failed},
	} {
		if q.keep <= 0 {
			continue
		}
		for {
			var n int64
			err := s.db.Transact(ctx, func(tx *db.Tx) error {
				res, err := tx.ExecContext(ctx,
					`DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox WHERE `+q.where+` LIMIT `+fmt.Sprint(pruneBatch)+`)`,
					tx.Now().Add(-q.keep))
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, fmt.Errorf("alertout: prune: %w", err)
			}
			total += int(n)
			if n < pruneBatch {
				break
			}
		}
	}
	return total, nil
}
