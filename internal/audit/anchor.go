package audit

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"
)

// Anchor is the head of the chain at some moment: the newest event's
// sequence number and hash. Kept outside the database (a log line, a
// metric, a note), it lets Verify detect a truncated or rewritten chain.
type Anchor struct {
	Seq  int64     // newest event; 0 when the chain is empty
	Hash []byte    // its hash; 32 zero bytes when the chain is empty
	At   time.Time // when the head was read (zero in an anchor given to Verify)
}

// String formats the anchor as SEQ:HASH, the form `portico audit verify
// --anchor` takes.
func (a Anchor) String() string { return fmt.Sprintf("%d:%s", a.Seq, hex.EncodeToString(a.Hash)) }

// Head returns the chain's current head.
func (l *Log) Head(ctx context.Context) (Anchor, error) {
	a := Anchor{At: l.db.Now()}
	if err := l.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&a.Seq, &a.Hash); err != nil {
		return Anchor{}, fmt.Errorf("audit: read chain head: %w", err)
	}
	return a, nil
}

// DefaultAnchorInterval is how often RunAnchoring records the head when
// given no interval.
const DefaultAnchorInterval = 5 * time.Minute

// RunAnchoring records the chain's head at once, then every interval until
// ctx ends, and once more as it stops: it logs "audit anchor" with the
// sequence number and hash (hex) at Info level on logger, and passes the
// anchor to onAnchor (which may be nil; the app sets metrics from it). It
// returns when ctx ends. A failed read is logged and retried at the next
// tick.
//
// Enforces CP-5.3, CP-8.1, MTL-1.1: the anchors leave the database (log
// shipping, metrics scraping), so cutting events off the end of the table,
// or rewriting the chain, is detectable against those copies with
// `portico audit verify --anchor SEQ:HASH`.
func (l *Log) RunAnchoring(ctx context.Context, interval time.Duration, logger *slog.Logger, onAnchor func(Anchor)) {
	if interval <= 0 {
		interval = DefaultAnchorInterval
	}
	if logger == nil {
		logger = slog.Default()
	}
	anchor := func(ctx context.Context) {
		a, err := l.Head(ctx)
		if err != nil {
			logger.Error("audit anchor failed", "error", err.Error())
			return
		}
		logger.Info("audit anchor", "seq", a.Seq, "hash", hex.EncodeToString(a.Hash))
		if onAnchor != nil {
			onAnchor(a)
		}
	}
	if ctx.Err() == nil {
		anchor(ctx)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last head before a stop is the one most worth keeping:
			// read it even though ctx has ended.
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			anchor(final)
			cancel()
			return
		case <-t.C:
			anchor(ctx)
		}
	}
}
