// Package livefeed carries the security dashboard's live feed: security
// events and alerts, pushed to the browsers watching the dashboard as
// server-sent events.
//
// A Hub fans events out to its subscribers on one node. A Publisher puts an
// event on the feed of every node: Local hands it straight to the hub (the
// one-process SQLite deployment), Postgres sends it with NOTIFY and every
// node, this one included, takes it back from its own LISTEN connection.
//
// Events carry no personal data: opaque IDs and codes only. The feed is a
// view, not a record; the audit log is the record. A viewer that falls
// behind or a node that loses its listener skips events, and the stream
// says so with a gap marker, so that the page can offer a reload.
package livefeed

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"
)

// The kinds of Event.
const (
	KindEvent = "event" // a security event (a sign-in, a failed step-up)
	KindAlert = "alert" // an alert raised by detection
	// KindGap marks a place in a subscriber's stream where events are
	// missing: the subscriber fell behind, or the node lost its database
	// listener for a while. It is never published, only delivered.
	KindGap = "gap"
)

// Event is one entry of the live feed. It holds opaque IDs and codes only,
// never a name, an address or any other personal field.
type Event struct {
	// ID identifies the event across nodes; it is the stream's event ID,
	// so a reconnecting browser resumes after it. Publishers fill an
	// empty or unusable one with a random ID.
	ID       string    `json:"id,omitempty"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Action   string    `json:"action,omitempty"`
	Outcome  string    `json:"outcome,omitempty"`
	Severity string    `json:"severity,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	// Dropped is set on a gap marker only: how many events this
	// subscriber missed at this point. 0 means the number is unknown.
	Dropped int `json:"dropped,omitempty"`
}

// MaxPayload bounds an event's JSON encoding. PostgreSQL refuses a NOTIFY
// payload of 8000 bytes or more; the same bound applies on SQLite so that
// an event looks the same on both.
const MaxPayload = 7999

// maxIDLen bounds an event ID.
const maxIDLen = 128

// ErrTooLarge is returned for an event that does not fit in MaxPayload
// even with its summary cut to nothing.
var ErrTooLarge = errors.New("live feed event too large")

// validID reports whether id can go on an SSE "id:" line and in a
// Last-Event-ID header unchanged: 1 to 128 characters of [A-Za-z0-9._:-].
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// normalize gives e a usable ID and a time. A gap marker is not an event
// anyone may publish, so its kind is replaced.
func normalize(e Event) Event {
	if !validID(e.ID) {
		e.ID = rand.Text()
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	if e.Kind == KindGap || e.Kind == "" {
		e.Kind = KindEvent
	}
	e.Dropped = 0
	return e
}

// encode normalizes e and returns its JSON encoding, cutting Summary (at a
// character boundary, marked with "…") until it fits in MaxPayload.
func encode(e Event) (Event, []byte, error) {
	e = normalize(e)
	b, err := json.Marshal(e)
	if err != nil {
		return e, nil, err
	}
	if len(b) <= MaxPayload {
		return e, b, nil
	}
	// Find the longest cut that fits. JSON escaping makes bytes of
	// summary one to six bytes of payload, so search rather than count.
	full := e.Summary
	fits := func(cut int) ([]byte, bool) {
		e.Summary = ""
		if cut > 0 {
			e.Summary = full[:cut] + "…"
		}
		b, err := json.Marshal(e)
		return b, err == nil && len(b) <= MaxPayload
	}
	if _, ok := fits(0); !ok {
		return e, nil, ErrTooLarge
	}
	lo, hi := 0, len(full) // fits(lo), !fits(hi)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, ok := fits(mid); ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	for lo > 0 && !utf8.RuneStart(full[lo]) {
		lo--
	}
	b, _ = fits(lo)
	return e, b, nil
}
