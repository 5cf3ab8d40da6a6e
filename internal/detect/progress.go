package detect

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Progress is how far the rules have read the audit trail, as the
// database records it: it shows whether some node is running them, in
// this process or another.
type Progress struct {
	// Cursor is the last audit event the rules read (0: none yet).
	Cursor int64
	// Head is the newest event of the trail.
	Head int64
	// OldestUnread is when the first event after the cursor was recorded
	// (zero when the rules have read everything).
	OldestUnread time.Time
	// LeaseUntil is when the rules' lease ends (zero: never taken). A node
	// running the rules renews it while at least a third of it is left.
	LeaseUntil time.Time
}

// MaxLag is how long an event may wait for the rules: their lease. A node
// steps every second and renews the lease with a third of it left, so an
// event older than that, or an expired lease, means no node is running
// the rules.
const MaxLag = leaseFor

// Progress reads the rules' cursor, the trail's head and the rules' lease.
//
// Enforces CP-8.1: that the events are watched as they happen can be
// shown from the records.
func (s *Service) Progress(ctx context.Context) (Progress, error) {
	var p Progress
	err := s.d.DB.QueryRowContext(ctx, `SELECT seq FROM detect_cursor WHERE name = $1`, leaseName).Scan(&p.Cursor)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, err
	}
	head, err := s.d.Audit.Head(ctx)
	if err != nil {
		return p, err
	}
	p.Head = head.Seq
	recs, err := s.d.Audit.After(ctx, p.Cursor, 1)
	if err != nil {
		return p, err
	}
	if len(recs) > 0 {
		p.OldestUnread = recs[0].At
	}
	var until sql.NullTime
	err = s.d.DB.QueryRowContext(ctx, `SELECT expires_at FROM job_leases WHERE name = $1`, leaseName).Scan(&until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, err
	}
	p.LeaseUntil = until.Time
	return p, nil
}
