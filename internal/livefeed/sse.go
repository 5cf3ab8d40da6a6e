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
// No lock is held while writing: the subscription's channel decouples the
// hub from the client. The caller decides who may watch (the route table).
func (h *Hub) ServeSSE(w http.ResponseWriter, r *http.Request) {
	events, cancel := h.SubscribeAfter(r.Context(), r.Header.Get("Last-Event-ID"))
	defer cancel()

	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()

	// A first comment sends the headers at once, so the browser's
	// EventSource opens even when nothing happens for a while.
	buf := make([]byte, 0, 512)
	buf = append(buf, ": live feed\n\n"...)
	for {
		if err := h.write(rc, w, buf); err != nil {
			return
		}
		buf = buf[:0]
		select {
		case e, ok := <-events:
			if !ok {
				return
			}
			buf = appendSSE(buf, e)
		case <-heartbeat.C:
			buf = append(buf, ": heartbeat\n\n"...)
		}
	}
}

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
