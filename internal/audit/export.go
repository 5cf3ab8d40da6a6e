package audit

import (
	"context"
	"encoding/json"
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
	return l.ExportFiltered(ctx, w, Filter{From: since})
}
