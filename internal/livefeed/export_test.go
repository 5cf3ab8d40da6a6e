package livefeed

import "time"

// SubscriberCount is how many subscriptions h has.
func SubscriberCount(h *Hub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// BackendPID is the server process of p's listening connection.
func BackendPID(p *Postgres) uint32 { return p.backendPID() }

// SetHealthEvery shortens the listener's idle check for listeners made
// afterwards and returns a function that restores it.
func SetHealthEvery(d time.Duration) func() {
	old := healthEvery
	healthEvery = d
	return func() { healthEvery = old }
}

// Encode exposes encode.
func Encode(e Event) (Event, []byte, error) { return encode(e) }
