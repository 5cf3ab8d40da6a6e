package livefeed

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// ServeSSE streams the feed to one browser as server-sent events: the
// backlog (or, for a browser that reconnects with Last-Event-ID, the
// events after that one when the backlog still has it), then live events.
//
// Each event is a "data:" line with the event's JSON under an "id:" line
// with its ID; a gap marker is an event named "gap" without an ID, so the
// browser's Last-Event-ID stays on the last real event. A comment line
// every Options.Heartbeat keeps proxies from closing an idle stream.
// The stream ends when the client goes away, a write stalls for
// Options.WriteTimeout, or the hub is closed.
//
// Events are flushed as soon as they are taken: one that finds others
// already waiting goes out with them in one write, never later. No lock
// is held while writing: Publish only fills the subscriber's buffer, and
// the stream takes from it. The caller decides who may watch (the route
// table).
func (h *Hub) ServeSSE(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	s, cancel := h.subscribe(r.Context(), r.Header.Get("Last-Event-ID"))
	defer cancel()
	if s == nil {
		return // the hub is closed: the server is shutting down
	}

	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()

	// A first comment sends the headers at once, so the browser's
	// EventSource opens even when nothing happens for a while.
	buf := make([]byte, 0, 4096)
	buf = append(buf, ": live feed\n\n"...)
	var batch []Event
	for {
		if len(buf) > 0 {
			if err := h.write(rc, w, buf); err != nil {
				return
			}
			buf = buf[:0]
		}
		// Every event waiting goes out in one write and one flush; an
		// event is never held back for a later one.
		batch = s.take(batch[:0], sseBatch)
		if len(batch) > 0 {
			for _, e := range batch {
				buf = appendSSE(buf, e)
			}
			clear(batch)
			continue
		}
		select {
		case <-s.wake:
		case <-s.stop:
			return
		case <-heartbeat.C:
			buf = append(buf, ": heartbeat\n\n"...)
		}
	}
}

// sseBatch bounds the events written to a client in one write.
const sseBatch = 64

// write sends b and flushes it, with a deadline so that a client that
// stops reading cannot hold the goroutine (or the subscription) forever.
func (h *Hub) write(rc *http.ResponseController, w http.ResponseWriter, b []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}

// appendSSE appends e as one server-sent event. The JSON encoding has no
// raw newline (encoding/json escapes them in strings), and the ID was
// checked by normalize, so neither can break out of its line.
func appendSSE(b []byte, e Event) []byte {
	data, err := json.Marshal(e)
	if err != nil {
		// Only a time outside years 0-9999 fails to encode; skip it.
		return b
	}
	if e.Kind == KindGap {
		b = append(b, "event: gap\n"...)
	} else if validID(e.ID) {
		b = append(b, "id: "...)
		b = append(b, e.ID...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}
