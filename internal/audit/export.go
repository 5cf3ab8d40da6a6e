package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// ExportLine is one line of Export's JSON Lines output. It holds every
// hashed field, so a SIEM or an auditor can check the chain from an export
// alone (hash.go documents the encoding; details is the stored text byte
// for byte).
type ExportLine struct {
	Seq       int64           `json:"seq"`
	At        string          `json:"at"` // RFC 3339, UTC, microseconds
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Outcome   string          `json:"outcome"`
	IP        string          `json:"ip"`
	UserAgent string          `json:"user_agent"`
	RequestID string          `json:"request_id"`
	Details   json.RawMessage `json:"details"`
	PrevHash  string          `json:"prev_hash"` // hex
	Hash      string          `json:"hash"`      // hex
}

// exportBatch is how many events one query reads.
const exportBatch = 1000

// Export writes the events at or after since (all of them when since is
// zero) to w as JSON Lines, one event per line in seq order, and returns
// how many it wrote. It reads in batches, so memory does not grow with
// the trail.
//
// Enforces CP-5.3, CP-8.1: the trail can be shipped to a SIEM.
func (l *Log) Export(ctx context.Context, w io.Writer, since time.Time) (int, error) {
	// Times are stored to the microsecond: an event is at or after since
	// exactly when it is at or after since rounded up.
	since = since.UTC()
	if t := since.Truncate(time.Microsecond); t.Before(since) {
		since = t.Add(time.Microsecond)
	}
	from := int64(1)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	for {
		got, next, err := l.exportPage(ctx, enc, from, since)
		n += got
		if err != nil {
			return n, err
		}
		if next == 0 {
			break
		}
		from = next
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

// exportPage writes the events of one batch from seq from on, and returns
// how many it wrote and the seq to continue from (0 at the end).
//
// The filter on time is in the query, so the database skips older events
// itself. There is no index on at (see migration 00003): a SIEM export is
// rare next to appends, and times follow seq only loosely (on PostgreSQL a
// transaction that began earlier can append later), so every page filters
// by time rather than starting from a seq found by time.
func (l *Log) exportPage(ctx context.Context, enc *json.Encoder, from int64, since time.Time) (int, int64, error) {
	rows, err := l.db.QueryContext(ctx,
		`SELECT seq, at, actor, action, target, outcome, ip, user_agent, request_id, details, prev_hash, hash
		 FROM audit_events WHERE seq >= $1 AND at >= $2 ORDER BY seq LIMIT $3`, from, since, exportBatch)
	if err != nil {
		return 0, 0, fmt.Errorf("audit: export from %d: %w", from, err)
	}
	defer rows.Close()
	var (
		n       int
		last    int64
		at      scanTime
		details string
		ph, h   []byte
	)
	for rows.Next() {
		var e ExportLine
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.IP, &e.UserAgent, &e.RequestID,
			&details, &ph, &h); err != nil {
			return n, 0, fmt.Errorf("audit: export after %d: %w", last, err)
		}
		last = e.Seq
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
		if err := enc.Encode(&e); err != nil {
			return n, 0, fmt.Errorf("audit: export: %w", err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, 0, fmt.Errorf("audit: export from %d: %w", from, err)
	}
	if n < exportBatch {
		return n, 0, nil
	}
	return n, last + 1, nil
}
