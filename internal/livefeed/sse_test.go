package livefeed_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/livefeed"
)

// sseEvent is one parsed server-sent event, or a comment.
type sseEvent struct {
	ID, Name, Data, Comment string
}

// sseReader reads server-sent events from a response body on a goroutine.
func sseReader(t *testing.T, resp *http.Response) <-chan sseEvent {
	t.Helper()
	out := make(chan sseEvent, 1000)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				out <- cur
				cur = sseEvent{}
			case strings.HasPrefix(line, ":"):
				cur.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				cur.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.Name = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.Data = line[6:]
			default:
				cur.Comment = "unexpected line " + line
			}
		}
	}()
	return out
}

// nextEvent skips comments and returns the next event.
func nextEvent(t *testing.T, ch <-chan sseEvent) (sseEvent, livefeed.Event) {
	t.Helper()
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if s.Comment != "" && s.Data == "" {
				continue
			}
			var e livefeed.Event
			if err := json.Unmarshal([]byte(s.Data), &e); err != nil {
				t.Fatalf("data %q: %v", s.Data, err)
			}
			return s, e
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5 s")
		}
	}
}

func open(t *testing.T, ctx context.Context, url, lastID string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	return resp, sseReader(t, resp)
}

// serve starts a hub and an HTTP server for its stream. The hub closes
// first when the test ends: the server waits for open streams.
func serve(t *testing.T, o livefeed.Options) (*livefeed.Hub, *httptest.Server) {
	h := livefeed.NewHub(o)
	srv := httptest.NewServer(http.HandlerFunc(h.ServeSSE))
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	return h, srv
}

func TestServeSSE(t *testing.T) {
	ctx := context.Background()

	t.Run("streams the backlog then live events with ids", func(t *testing.T) {
		h, srv := serve(t, livefeed.Options{})
		h.Publish(ev(1))
		h.Publish(ev(2))
		_, stream := open(t, ctx, srv.URL, "")
		for _, want := range []string{"e1", "e2"} {
			s, e := nextEvent(t, stream)
			if s.ID != want || e.ID != want || e.Action != "signin" {
				t.Fatalf("got %+v / %+v, want %s", s, e, want)
			}
		}
		alert := livefeed.Event{ID: "a1", Kind: livefeed.KindAlert, Severity: "high", Summary: "line one\nline two </script>"}
		h.Publish(alert)
		s, e := nextEvent(t, stream)
		if s.ID != "a1" || e.Kind != livefeed.KindAlert || e.Summary != alert.Summary {
			t.Fatalf("got %+v / %+v", s, e)
		}
	})

	t.Run("resumes after Last-Event-ID", func(t *testing.T) {
		h, srv := serve(t, livefeed.Options{})
		for i := range 5 {
			h.Publish(ev(i))
		}
		_, stream := open(t, ctx, srv.URL, "e2")
		for _, want := range []string{"e3", "e4"} {
			if s, _ := nextEvent(t, stream); s.ID != want {
				t.Fatalf("got %+v, want %s", s, want)
			}
		}
	})

	t.Run("an unknown Last-Event-ID gets a gap event without an id", func(t *testing.T) {
		h, srv := serve(t, livefeed.Options{})
		h.Publish(ev(7))
		_, stream := open(t, ctx, srv.URL, "gone")
		s, e := nextEvent(t, stream)
		if s.Name != "gap" || s.ID != "" || e.Kind != livefeed.KindGap {
			t.Fatalf("got %+v / %+v", s, e)
		}
		if s, _ := nextEvent(t, stream); s.ID != "e7" {
			t.Fatalf("got %+v", s)
		}
	})

	t.Run("sends a heartbeat comment", func(t *testing.T) {
		_, srv := serve(t, livefeed.Options{Heartbeat: 20 * time.Millisecond})
		_, stream := open(t, ctx, srv.URL, "")
		for {
			select {
			case s := <-stream:
				if s.Comment == "heartbeat" {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no heartbeat")
			}
		}
	})

	t.Run("ends when the client goes away", func(t *testing.T) {
		h, srv := serve(t, livefeed.Options{})
		cctx, cancel := context.WithCancel(ctx)
		_, stream := open(t, cctx, srv.URL, "")
		<-stream // the opening comment
		waitFor(t, func() bool { return livefeed.SubscriberCount(h) == 1 })
		cancel()
		waitFor(t, func() bool { return livefeed.SubscriberCount(h) == 0 })
	})

	t.Run("ends every stream when the hub closes", func(t *testing.T) {
		h, srv := serve(t, livefeed.Options{})
		_, s1 := open(t, ctx, srv.URL, "")
		_, s2 := open(t, ctx, srv.URL, "")
		waitFor(t, func() bool { return livefeed.SubscriberCount(h) == 2 })
		h.Close()
		for _, s := range []<-chan sseEvent{s1, s2} {
			deadline := time.After(5 * time.Second)
		drain:
			for {
				select {
				case _, ok := <-s:
					if !ok {
						break drain
					}
				case <-deadline:
					t.Fatal("stream still open after Close")
				}
			}
		}
	})

	t.Run("a stalled client does not hold up other viewers and is let go", func(t *testing.T) {
		h, srv := serve(t, livefeed.Options{Buffer: 8, WriteTimeout: 200 * time.Millisecond})
		// A client that sends its request and never reads.
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		waitFor(t, func() bool { return livefeed.SubscriberCount(h) == 1 })
		_, live := open(t, ctx, srv.URL, "")
		waitFor(t, func() bool { return livefeed.SubscriberCount(h) == 2 })

		// Big events until the stalled stream's socket is full and its
		// write times out; meanwhile the live viewer keeps receiving.
		big := strings.Repeat("x", 7000)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		received, i := 0, 0
		for received < 10 || livefeed.SubscriberCount(h) != 1 {
			select {
			case s, ok := <-live:
				if !ok {
					t.Fatal("live stream ended")
				}
				if s.ID != "" {
					received++
				}
			case <-tick.C:
				for range 20 {
					e := ev(i)
					e.Summary = big
					h.Publish(e)
					i++
				}
			case <-deadline:
				t.Fatalf("after 10 s: live viewer received %d, %d subscribers", received, livefeed.SubscriberCount(h))
			}
		}
	})
}
