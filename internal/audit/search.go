package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Filter selects audit events for the auditors' search and export. Empty
// fields match everything.
type Filter struct {
	Actor  string    // exact: "account:ID", "cli", "system"
	Action string    // prefix: "account.role" matches account.role.change and account.role.request
	Target string    // exact: "account:ID", "ticket:ID"
	From   time.Time // at or after (inclusive)
	To     time.Time // before (exclusive)
	// Before keeps events below this seq (0: no bound): Search continues
	// newest-first from it, ExportFiltered stops at it.
	Before int64
	Limit  int // Search only: default 50, at most 500
}

// where builds the condition of f with its arguments.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Actor != "" {
		conds = append(conds, "actor = "+arg(f.Actor))
	}
	if f.Action != "" {
		// A prefix match; the input's own wildcards are escaped, so they
		// mean only themselves.
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Action)
		conds = append(conds, "action LIKE "+arg(esc+"%")+` ESCAPE '\'`)
	}
	if f.Target != "" {
		conds = append(conds, "target = "+arg(f.Target))
	}
	// Times are stored to the microsecond, so a bound is rounded up to
	// one: "at >= From" and "at < To" then hold for a stored time exactly
	// when they hold for the true one.
	if !f.From.IsZero() {
		conds = append(conds, "at >= "+arg(ceilMicro(f.From)))
	}
	if !f.To.IsZero() {
		conds = append(conds, "at < "+arg(ceilMicro(f.To)))
	}
	if f.Before > 0 {
		conds = append(conds, "seq < "+arg(f.Before))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Search returns the events that match f, newest first. To read the next
// page, set f.Before to the seq of the last event returned.
//
// Enforces CP-5.3, MTL-7.2: auditors search the trail by actor, action,
// target and time, read-only.
func (l *Log) Search(ctx context.Context, f Filter) ([]ExportLine, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	cond, args := f.where()
	args = append(args, limit)
	rows, err := l.db.QueryContext(ctx,
		`SELECT seq, at, actor, action, target, outcome, ip, user_agent, request_id, details, prev_hash, hash
		 FROM audit_events`+cond+` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: search: %w", err)
	}
	defer rows.Close()
	var out []ExportLine
	for rows.Next() {
		e, err := scanLine(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ceilMicro is t in UTC rounded up to the microsecond.
func ceilMicro(t time.Time) time.Time {
	t = t.UTC()
	if r := t.Truncate(time.Microsecond); r.Before(t) {
		return r.Add(time.Microsecond)
	}
	return t
}

// ExportScope counts the events that match f (f.Limit aside) up to the
// chain's head as it is now, and returns the count and the head's seq.
// ExportFiltered with f.Before set to head+1 then writes exactly those
// events, whatever is appended meanwhile, so that an export can be
// recorded in the trail with its count before any event leaves.
//
// One statement reads both: the head and the events up to it come from the
// same snapshot, in which every event up to the head is committed (an
// append moves the head in the transaction that inserts the event, after
// the event before it was committed).
func (l *Log) ExportScope(ctx context.Context, f Filter) (count int, head int64, err error) {
	cond, args := f.where()
	if cond == "" {
		cond = " WHERE "
	} else {
		cond += " AND "
	}
	err = l.db.QueryRowContext(ctx,
		`SELECT h.seq, (SELECT count(*) FROM audit_events`+cond+`seq <= h.seq)
		 FROM audit_head h WHERE h.id = 1`, args...).Scan(&head, &count)
	if err != nil {
		return 0, 0, fmt.Errorf("audit: count export: %w", err)
	}
	return count, head, nil
}

// ExportFiltered writes the events that match f (f.Limit aside; when
// f.Before is set, those below it) to w as JSON Lines in seq order, in
// batches, and returns how many it wrote.
func (l *Log) ExportFiltered(ctx context.Context, w io.Writer, f Filter) (int, error) {
	cond, args := f.where()
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	var from int64
	for {
		c := cond
		a := append([]any(nil), args...)
		a = append(a, from)
		if c == "" {
			c = " WHERE seq > $1"
		} else {
			c += " AND seq > $" + strconv.Itoa(len(a))
		}
		a = append(a, exportBatch)
		rows, err := l.db.QueryContext(ctx,
			`SELECT seq, at, actor, action, target, outcome, ip, user_agent, request_id, details, prev_hash, hash
			 FROM audit_events`+c+` ORDER BY seq LIMIT $`+strconv.Itoa(len(a)), a...)
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		got := 0
		for rows.Next() {
			e, err := scanLine(rows)
			if err != nil {
				rows.Close()
				return n, err
			}
			if err := enc.Encode(&e); err != nil {
				rows.Close()
				return n, err
			}
			from = e.Seq
			got++
			n++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return n, err
		}
		if got < exportBatch {
			break
		}
	}
	return n, bw.Flush()
}

func scanLine(rows interface{ Scan(...any) error }) (ExportLine, error) {
	var (
		e       ExportLine
		at      scanTime
		details string
		ph, h   []byte
	)
	if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.IP, &e.UserAgent, &e.RequestID,
		&details, &ph, &h); err != nil {
		return e, fmt.Errorf("audit: read: %w", err)
	}
	e.At = at.raw // a row altered by hand: its text as stored
	if at.ok {
		e.At = at.t.UTC().Format(timeLayout)
	}
	e.Details = json.RawMessage(details)
	if !json.Valid(e.Details) {
		// A row altered by hand can hold anything; export it as a
		// string rather than write a line that is not JSON.
		e.Details, _ = json.Marshal(details)
	}
	e.PrevHash, e.Hash = hex.EncodeToString(ph), hex.EncodeToString(h)
	return e, nil
}
