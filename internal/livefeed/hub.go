package livefeed

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Hub. Zero values take the defaults.
type Options struct {
	// Backlog is how many of the latest events a new subscriber gets
	// first (default 100).
	Backlog int
	// Buffer is how many events a subscriber may fall behind before it
	// starts to miss them (default 256, at least 2).
	Buffer int
	// Heartbeat is the interval of ServeSSE's comment lines, which keep
	// proxies from closing an idle stream (default 15 s).
	Heartbeat time.Duration
	// WriteTimeout bounds each write to a browser in ServeSSE (default
	// 10 s); a stream whose client stops reading ends.
	WriteTimeout time.Duration
}

// Hub fans events out to the subscribers on this node. Publish never
// blocks on a subscriber: each has a bounded buffer, and one that falls
// behind misses events and gets a gap marker in their place. The hub keeps
// the latest events as a backlog for new subscribers. It is safe for
// concurrent use.
type Hub struct {
	opts Options

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	backlog ring
	closed  bool

	dropped atomic.Int64
}

// NewHub returns a hub with the given options.
func NewHub(opts Options) *Hub {
	if opts.Backlog <= 0 {
		opts.Backlog = 100
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 256
	}
	opts.Buffer = max(opts.Buffer, 2)
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	return &Hub{
		opts:    opts,
		subs:    make(map[*subscriber]struct{}),
		backlog: newRing(opts.Backlog),
	}
}

// Publish hands e to every subscriber of this node and keeps it in the
// backlog. It does not wait for any subscriber. An event without a usable
// ID gets a random one; a closed hub drops the event.
//
// Publish is for events that are already on their way to every node (the
// PostgreSQL listener calls it); the rest of Portico uses a Publisher.
func (h *Hub) Publish(e Event) {
	e = normalize(e)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.backlog.pushOver(e)
	for s := range h.subs {
		if n := s.push(e); n > 0 {
			h.dropped.Add(int64(n))
		}
	}
}

// MarkGap puts a gap marker, with an unknown count, in every subscriber's
// stream: events may have been published that this node never saw (its
// database listener was down).
func (h *Hub) MarkGap() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.markGap()
	}
}

// Dropped is the number of events that subscribers have missed, since the
// hub was made, because they fell behind.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Backlog returns the events the hub keeps for new subscribers, oldest first.
func (h *Hub) Backlog() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.backlog.all()
}

// Subscribe returns a channel with the backlog, then every event published
// from now on, in publication order. The channel is closed when ctx ends,
// when the returned function is called (it may be called more than once)
// or when the hub is closed.
func (h *Hub) Subscribe(ctx context.Context) (<-chan Event, func()) {
	return h.SubscribeAfter(ctx, "")
}

// SubscribeAfter is Subscribe for a client that has seen events up to
// lastID (an SSE Last-Event-ID). If lastID is in the backlog, the
// channel starts with the events after it; otherwise with a gap marker
// and the whole backlog, since events may have been missed. An empty
// lastID means a new client: the whole backlog, no gap marker.
func (h *Hub) SubscribeAfter(ctx context.Context, lastID string) (<-chan Event, func()) {
	s, cancel := h.subscribe(ctx, lastID)
	if s == nil {
		out := make(chan Event)
		close(out)
		return out, cancel
	}
	s.out = make(chan Event)
	go s.run()
	return s.out, cancel
}

// subscribe registers a subscriber that starts with the backlog after
// lastID (see SubscribeAfter). It is nil if the hub is closed. The
// subscriber stops (s.stop closes) when ctx ends, cancel is called or
// the hub closes.
func (h *Hub) subscribe(ctx context.Context, lastID string) (*subscriber, func()) {
	s := &subscriber{
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		buf:  newRing(h.opts.Buffer),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, func() {}
	}
	backlog := h.backlog.all()
	if lastID != "" {
		found := false
		for i := len(backlog) - 1; i >= 0; i-- {
			if backlog[i].ID == lastID {
				backlog, found = backlog[i+1:], true
				break
			}
		}
		if !found {
			s.initial = append(s.initial, Event{Kind: KindGap, At: time.Now().UTC()})
		}
	}
	s.initial = append(s.initial, backlog...)
	h.subs[s] = struct{}{}
	h.mu.Unlock()

	end := func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.close()
	}
	stopAfter := context.AfterFunc(ctx, end)
	return s, func() {
		stopAfter()
		end()
	}
}

// Close ends every subscription (so every ServeSSE stream) and makes
// later Publish calls do nothing. Call it before http.Server.Shutdown,
// which otherwise waits for the streams, which never go idle.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	subs := h.subs
	h.subs = make(map[*subscriber]struct{})
	h.mu.Unlock()
	for s := range subs {
		s.close()
	}
}

// subscriber is one subscription. Publish adds to its buffer under mu and
// signals wake. For Subscribe a goroutine of its own (run) moves events
// from the buffer to out, so that a gap marker follows the last event
// delivered as soon as the reader has caught up, without waiting for the
// next publication; ServeSSE takes events in batches instead (take).
type subscriber struct {
	out  chan Event    // Subscribe's channel; nil for ServeSSE
	wake chan struct{} // capacity 1: "something to send"
	stop chan struct{}

	stopOnce sync.Once

	mu      sync.Mutex
	initial []Event // backlog, sent first
	buf     ring
	gap     bool // events are missing after buf's contents
	missed  int  // how many, if known (MarkGap adds none)
}

// push adds e to the buffer, or misses it when the buffer is full. While a
// gap is open, e goes in only if the gap marker fits before it. It returns
// how many events were missed (0 or 1).
func (s *subscriber) push(e Event) int {
	s.mu.Lock()
	missed := 0
	switch free := s.buf.free(); {
	case !s.gap && free >= 1:
		s.buf.push(e)
	case s.gap && free >= 2:
		s.buf.push(s.gapMarker())
		s.buf.push(e)
	default:
		s.gap = true
		s.missed++
		missed = 1
	}
	s.mu.Unlock()
	s.signal()
	return missed
}

func (s *subscriber) markGap() {
	s.mu.Lock()
	s.gap = true
	s.mu.Unlock()
	s.signal()
}

// gapMarker closes the open gap and returns its marker. s.mu is held.
func (s *subscriber) gapMarker() Event {
	g := Event{Kind: KindGap, At: time.Now().UTC(), Dropped: s.missed}
	s.gap, s.missed = false, 0
	return g
}

// close stops the subscriber's goroutine, which closes out.
func (s *subscriber) close() { s.stopOnce.Do(func() { close(s.stop) }) }

func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the next event to send: the backlog, then the buffer, then
// the marker of a gap after the buffer's contents.
func (s *subscriber) next() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.initial) > 0:
		e := s.initial[0]
		s.initial[0] = Event{}
		s.initial = s.initial[1:]
		return e, true
	case s.buf.n > 0:
		return s.buf.pop(), true
	case s.gap:
		return s.gapMarker(), true
	}
	return Event{}, false
}

// take appends to dst what next would return, up to max events, in one
// go: a reader that fell behind catches up in one write.
func (s *subscriber) take(dst []Event, max int) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(dst) < max {
		switch {
		case len(s.initial) > 0:
			dst = append(dst, s.initial[0])
			s.initial[0] = Event{}
			s.initial = s.initial[1:]
		case s.buf.n > 0:
			dst = append(dst, s.buf.pop())
		case s.gap:
			dst = append(dst, s.gapMarker())
		default:
			return dst
		}
	}
	return dst
}

func (s *subscriber) run() {
	defer close(s.out)
	for {
		e, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		select {
		case s.out <- e:
		case <-s.stop:
			return
		}
	}
}

// ring is a fixed-size FIFO of events.
type ring struct {
	buf  []Event
	head int // index of the oldest
	n    int
}

func newRing(size int) ring { return ring{buf: make([]Event, size)} }

func (r *ring) free() int { return len(r.buf) - r.n }

// push adds e; the caller has checked that there is room.
func (r *ring) push(e Event) {
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

// pushOver adds e, overwriting the oldest when full.
func (r *ring) pushOver(e Event) {
	if r.n == len(r.buf) {
		r.pop()
	}
	r.push(e)
}

func (r *ring) pop() Event {
	e := r.buf[r.head]
	r.buf[r.head] = Event{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return e
}

func (r *ring) all() []Event {
	out := make([]Event, r.n)
	for i := range out {
		out[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	return out
}
