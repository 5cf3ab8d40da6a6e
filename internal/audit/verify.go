package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Break says how the chain is broken at VerifyResult.BrokenAt.
type Break string

// The ways a chain breaks, and what each one means.
const (
	// BreakAltered: the event's hash does not match its columns. The row
	// was changed after it was written.
	BreakAltered Break = "altered"
	// BreakLink: the event's prev_hash is not its predecessor's hash. A row
	// before it was replaced, or the chain was spliced.
	BreakLink Break = "link"
	// BreakMissing: there is no event with this seq although later ones
	// exist. Rows were deleted from the middle of the chain.
	BreakMissing Break = "missing"
	// BreakTruncated: the head (or an anchor) names events past the last
	// one in the table. Rows were deleted from the end.
	BreakTruncated Break = "truncated"
	// BreakHead: the head's hash is not the last event's hash. The head row
	// or the last event was changed.
	BreakHead Break = "head"
	// BreakBeyondHead: events exist past the head. Rows were inserted, or
	// the head was moved back.
	BreakBeyondHead Break = "beyond_head"
	// BreakAnchor: the event at the anchor's seq has another hash than the
	// external copy. The chain was rewritten up to that point.
	BreakAnchor Break = "anchor"
)

// VerifyOptions adjust Verify.
type VerifyOptions struct {
	// Anchor, when set, is a head recorded earlier outside the database
	// (from an "audit anchor" log line or the metrics). Verify then also
	// fails if the event at Anchor.Seq is missing or has another hash.
	Anchor *Anchor
	// BatchSize is how many events one query reads (default 5000).
	BatchSize int
	// Workers is how many stretches of the chain are checked at once, each
	// on its own read connection (default: the number of CPUs, at most 4).
	Workers int
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	// OK is true when the chain is intact.
	OK bool
	// Events is how many events were checked and found intact before the
	// first broken link (all of them when OK).
	Events int64
	// BrokenAt is the seq of the first broken link (0 when OK).
	BrokenAt int64
	// Break says how it is broken, and Reason says it in words.
	Break  Break
	Reason string
	// Head is the chain's head as read when the walk began. Events
	// appended during the walk are left for the next verify.
	Head Anchor
}

// Verify walks the chain in seq order and reports the first broken link:
// an event whose hash does not match its columns, whose prev_hash is not
// its predecessor's hash, a gap in seq, a head that does not match the last
// event, events past the head, or an event that differs from opts.Anchor.
// A broken chain is a result (OK false), not an error; the error is for a
// walk that could not finish.
//
// The chain is cut into stretches of consecutive seqs that workers check
// at the same time (reading in batches, so memory does not grow with the
// chain); the stretches are then joined in order, checking that each one's
// first prev_hash is the hash that ends the one before. The first broken
// link found is the same as a walk from event 1 would find.
//
// Enforces CP-5.3, MTL-1.1: any change to the audit trail made outside the
// application, other than a consistent rewrite of the whole chain from some
// point on, is detected; with an external anchor, that too.
func (l *Log) Verify(ctx context.Context, opts VerifyOptions) (VerifyResult, error) {
	batch := opts.BatchSize
	if batch <= 0 {
		batch = 5000
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	head, err := l.Head(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Head: head}
	// The walk ends at the head, or at the last event in the table if that
	// comes first (the tail was cut off). Never trusting the head alone
	// keeps a head row moved far ahead by hand from sizing the walk.
	var maxSeq sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT max(seq) FROM audit_events`).Scan(&maxSeq); err != nil {
		return VerifyResult{}, fmt.Errorf("audit: read last event: %w", err)
	}
	end := min(head.Seq, maxSeq.Int64)
	// After prunes the chain starts past the last pruned event, whose hash
	// its first event must carry; the prune must be an event of the chain.
	start, genesis, err := l.pruneStart(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	if start > 1 {
		ok, err := l.pruneRecorded(ctx, start-1)
		if err != nil {
			return VerifyResult{}, err
		}
		if !ok {
			res.fail(start, BreakMissing, "events 1 to %d were removed by a prune that is not in the chain: rows were deleted", start-1)
			return res, nil
		}
	}

	// Stretches of a few batches: enough to keep every worker busy to the
	// end, few enough that joining them costs nothing.
	span := int64(batch) * 4
	stretches := make([]stretch, max(end-start+1+span-1, 0)/span)
	for i := range stretches {
		from := start + int64(i)*span
		stretches[i] = stretch{from: from, to: min(from+span-1, end), done: make(chan struct{})}
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	var taken atomic.Int64
	for range min(workers, len(stretches)) {
		wg.Go(func() {
			w := &verifier{anchor: opts.Anchor}
			for {
				i := int(taken.Add(1) - 1)
				if i >= len(stretches) || wctx.Err() != nil {
					return
				}
				w.run(wctx, l, &stretches[i], batch)
				close(stretches[i].done)
			}
		})
	}

	prev := genesis // the genesis prev_hash, or the last pruned event's hash
	for i := range stretches {
		s := &stretches[i]
		select {
		case <-s.done:
		case <-ctx.Done():
			return VerifyResult{}, ctx.Err()
		}
		if s.first == s.from && !bytes.Equal(s.firstPrev, prev) {
			res.fail(s.from, BreakLink, "event %d does not follow event %d: its prev_hash %s is not the hash %s of its predecessor",
				s.from, s.from-1, short(s.firstPrev), short(prev))
			return res, nil
		}
		res.Events += s.events
		if s.brk.at != 0 {
			res.BrokenAt, res.Break, res.Reason = s.brk.at, s.brk.kind, s.brk.reason
			return res, nil
		}
		if s.err != nil {
			return VerifyResult{}, s.err
		}
		if s.last < s.to {
			// The stretch ended early: later events are missing, or
			// the tail was cut off.
			if err := l.gapAfter(ctx, &res, s.last); err != nil {
				return VerifyResult{}, err
			}
			return res, nil
		}
		prev = s.lastHash
	}
	if end < head.Seq {
		// Intact up to the last event in the table, but the head names
		// later ones.
		if err := l.gapAfter(ctx, &res, end); err != nil {
			return VerifyResult{}, err
		}
		return res, nil
	}
	if err := l.checkHead(ctx, &res, prev, opts.Anchor); err != nil {
		return VerifyResult{}, err
	}
	res.OK = res.BrokenAt == 0
	return res, nil
}

func (r *VerifyResult) fail(seq int64, b Break, format string, args ...any) {
	r.BrokenAt, r.Break, r.Reason = seq, b, fmt.Sprintf(format, args...)
}

// stretch is a run of seqs [from, to] that one worker checks on its own,
// and what it found.
type stretch struct {
	from, to int64
	done     chan struct{} // closed when the fields below are set

	first     int64  // seq of the first row read (0 if none)
	firstPrev []byte // its prev_hash, which the join checks
	last      int64  // seq of the last intact event (from-1 if none)
	lastHash  []byte // its hash
	events    int64  // intact events
	brk       brokenLink
	err       error
}

type brokenLink struct {
	at     int64
	kind   Break
	reason string
}

// verifier checks stretches; each worker has one, and reuses its buffers.
type verifier struct {
	anchor *Anchor
	s      *stretch
	prev   []byte // hash of the event before next (nil before the first row)
	next   int64  // seq expected next
	buf    []byte // canonical encoding, reused

	// One row, scanned into buffers that the driver fills in place.
	seq    int64
	at     scanTime
	fields [8]sql.RawBytes
	prevH  sql.RawBytes
	hash   sql.RawBytes
}

func (v *verifier) fail(seq int64, b Break, format string, args ...any) {
	v.s.brk = brokenLink{at: seq, kind: b, reason: fmt.Sprintf(format, args...)}
}

// run checks stretch s, reading it in batches.
func (v *verifier) run(ctx context.Context, l *Log, s *stretch, batch int) {
	v.s, v.prev, v.next = s, v.prev[:0], s.from
	s.last = s.from - 1
	for s.brk.at == 0 && v.next <= s.to {
		n, err := v.page(ctx, l, s.to, batch)
		if err != nil {
			s.err = err
			return
		}
		if n < batch {
			return
		}
	}
}

const sqlPage = `SELECT seq, at, actor, action, target, outcome, ip, user_agent, request_id, details, prev_hash, hash
	FROM audit_events WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`

// page checks up to batch events from v.next on, and returns how many rows
// it read.
func (v *verifier) page(ctx context.Context, l *Log, to int64, batch int) (int, error) {
	rows, err := l.db.QueryContext(ctx, sqlPage, v.next, to, batch)
	if err != nil {
		return 0, fmt.Errorf("audit: read events from %d: %w", v.next, err)
	}
	defer rows.Close()
	dest := []any{&v.seq, &v.at}
	for i := range v.fields {
		dest = append(dest, &v.fields[i])
	}
	dest = append(dest, &v.prevH, &v.hash)
	n := 0
	for rows.Next() {
		n++
		if err := rows.Scan(dest...); err != nil {
			return n, fmt.Errorf("audit: read event after %d: %w", v.next-1, err)
		}
		if v.check(); v.s.brk.at != 0 {
			return n, nil
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("audit: read events from %d: %w", v.next, err)
	}
	return n, nil
}

// check verifies the scanned row against its predecessor and itself. The
// first row of a stretch has its predecessor in another stretch: its link
// is checked when the stretches are joined.
func (v *verifier) check() {
	s := v.s
	if s.first == 0 {
		s.first = v.seq
		s.firstPrev = append(s.firstPrev[:0], v.prevH...)
	}
	switch {
	case v.seq != v.next:
		missing(v.fail, v.next-1, v.seq)
		return
	case v.seq != s.from && !bytes.Equal(v.prevH, v.prev):
		v.fail(v.seq, BreakLink, "event %d does not follow event %d: its prev_hash %s is not the hash %s of its predecessor",
			v.seq, v.seq-1, short(v.prevH), short(v.prev))
		return
	}
	if !v.at.ok {
		v.fail(v.seq, BreakAltered, "event %d was altered: its time %q is not a time", v.seq, truncateText(v.at.raw, 40))
		return
	}
	v.buf = appendCanonical(v.buf[:0], v.seq, v.prevH, v.at.t, &v.fields)
	sum := sha256.Sum256(v.buf)
	if !bytes.Equal(sum[:], v.hash) {
		v.fail(v.seq, BreakAltered, "event %d was altered: its columns hash to %s, not to its stored hash %s",
			v.seq, short(sum[:]), short(v.hash))
		return
	}
	if a := v.anchor; a != nil && a.Seq == v.seq && !bytes.Equal(a.Hash, v.hash) {
		v.fail(v.seq, BreakAnchor, "event %d has hash %s but the anchor says %s: the chain was rewritten up to here",
			v.seq, short(v.hash), short(a.Hash))
		return
	}
	s.events++
	s.last = v.seq
	s.lastHash = append(s.lastHash[:0], v.hash...)
	v.prev = append(v.prev[:0], v.hash...)
	v.next++
}

// missing reports that the events after last and before next are gone.
func missing(fail func(int64, Break, string, ...any), last, next int64) {
	switch {
	case last == 0 && next == 2:
		fail(1, BreakMissing, "event 1 is missing (the chain starts at event 2): rows were deleted")
	case last == 0:
		fail(1, BreakMissing, "events 1 to %d are missing (the chain starts at event %d): rows were deleted", next-1, next)
	case next == last+2:
		fail(last+1, BreakMissing, "event %d is missing (event %d follows event %d): rows were deleted", last+1, next, last)
	default:
		fail(last+1, BreakMissing, "events %d to %d are missing (event %d follows event %d): rows were deleted", last+1, next-1, next, last)
	}
}

// gapAfter reports what follows event last, the last intact one, when the
// head says more events exist: a gap if later events exist, else a cut-off
// tail.
func (l *Log) gapAfter(ctx context.Context, res *VerifyResult, last int64) error {
	var next sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT min(seq) FROM audit_events WHERE seq > $1 AND seq <= $2`,
		last, res.Head.Seq).Scan(&next); err != nil {
		return fmt.Errorf("audit: read events after %d: %w", last, err)
	}
	switch {
	case next.Valid:
		missing(res.fail, last, next.Int64)
	case last == 0:
		res.fail(1, BreakTruncated, "the table holds no event but the head is event %d: events 1 to %d were deleted",
			res.Head.Seq, res.Head.Seq)
	default:
		res.fail(last+1, BreakTruncated, "the chain ends at event %d but its head is event %d: events %d to %d were deleted",
			last, res.Head.Seq, last+1, res.Head.Seq)
	}
	return nil
}

// checkHead checks the end of an intact chain, whose last hash is last,
// against the head, the anchor, and what lies past the head.
func (l *Log) checkHead(ctx context.Context, res *VerifyResult, last []byte, anchor *Anchor) error {
	head := res.Head
	if !bytes.Equal(head.Hash, last) {
		res.fail(head.Seq, BreakHead, "the head's hash %s is not the hash %s of event %d: the head or the last event was changed",
			short(head.Hash), short(last), head.Seq)
		return nil
	}
	if anchor != nil && anchor.Seq > head.Seq {
		res.fail(head.Seq+1, BreakTruncated, "the anchor names event %d but the chain ends at event %d: events were deleted and the head moved back",
			anchor.Seq, head.Seq)
		return nil
	}
	// Events past the head. Read the highest seq first, then the head
	// again: an append commits its event and the head together, so a
	// committed event is never past a head read after it. Anything past
	// that second head was not appended by Portico.
	var max sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT max(seq) FROM audit_events`).Scan(&max); err != nil {
		return fmt.Errorf("audit: read last event: %w", err)
	}
	now, err := l.Head(ctx)
	if err != nil {
		return err
	}
	if max.Valid && max.Int64 > now.Seq {
		res.fail(now.Seq+1, BreakBeyondHead, "events up to %d exist past the head (event %d): rows were inserted or the head moved back",
			max.Int64, now.Seq)
	}
	return nil
}

// truncateText shortens text copied from a row into a message.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// short abbreviates a hash for a message.
func short(h []byte) string {
	if len(h) > 8 {
		return hex.EncodeToString(h[:8]) + "…"
	}
	return hex.EncodeToString(h)
}
