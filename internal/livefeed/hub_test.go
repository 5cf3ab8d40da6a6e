package livefeed_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/livefeed"
)

func ev(i int) livefeed.Event {
	return livefeed.Event{
		ID:      fmt.Sprintf("e%d", i),
		At:      time.Date(2026, 12, 3, 10, 0, i, 0, time.UTC),
		Kind:    livefeed.KindEvent,
		Action:  "signin",
		Outcome: "success",
	}
}

// recv takes the next event or fails after a second.
func recv(t *testing.T, ch <-chan livefeed.Event) livefeed.Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return livefeed.Event{}
}

// quiet checks that nothing arrives for d.
func quiet(t *testing.T, ch <-chan livefeed.Event, d time.Duration) {
	t.Helper()
	select {
	case e, ok := <-ch:
		t.Fatalf("unexpected %+v (open %v)", e, ok)
	case <-time.After(d):
	}
}

func ids(es []livefeed.Event) string {
	var s []string
	for _, e := range es {
		if e.Kind == livefeed.KindGap {
			s = append(s, fmt.Sprintf("gap(%d)", e.Dropped))
		} else {
			s = append(s, e.ID)
		}
	}
	return strings.Join(s, " ")
}

func take(t *testing.T, ch <-chan livefeed.Event, n int) []livefeed.Event {
	t.Helper()
	out := make([]livefeed.Event, n)
	for i := range out {
		out[i] = recv(t, ch)
	}
	return out
}

func closed(t *testing.T, ch <-chan livefeed.Event) {
	t.Helper()
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("got %+v, want a closed channel", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed within 5 s")
	}
}

func TestHub(t *testing.T) {
	ctx := context.Background()

	t.Run("fans out to every subscriber in publication order", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{})
		defer h.Close()
		var chans []<-chan livefeed.Event
		for range 3 {
			ch, cancel := h.Subscribe(ctx)
			defer cancel()
			chans = append(chans, ch)
		}
		var want []livefeed.Event
		for i := range 50 {
			h.Publish(ev(i))
			want = append(want, ev(i))
		}
		for i, ch := range chans {
			if got := ids(take(t, ch, 50)); got != ids(want) {
				t.Fatalf("subscriber %d got %s", i, got)
			}
		}
	})

	t.Run("a slow subscriber does not block the publisher and gets a gap", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{Buffer: 4})
		defer h.Close()
		slow, cancel := h.Subscribe(ctx)
		defer cancel()
		fast, cancelFast := h.Subscribe(ctx)
		defer cancelFast()
		fastGot := make(chan []livefeed.Event)
		go func() {
			var got []livefeed.Event
			for e := range fast {
				got = append(got, e)
				if e.ID == "e1000" {
					break
				}
			}
			fastGot <- got
		}()

		start := time.Now()
		for i := range 1000 {
			h.Publish(ev(i))
			if i%5 == 4 {
				// Give the fast reader a moment, as a real
				// publisher would (1000 events at once is no feed).
				time.Sleep(50 * time.Microsecond)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("publishing 1000 events with a stuck subscriber took %v", d)
		}

		// The slow one gets what fitted, then one gap marker counting
		// the rest, and nothing else.
		var got []livefeed.Event
		for {
			e := recv(t, slow)
			got = append(got, e)
			if e.Kind == livefeed.KindGap {
				break
			}
		}
		n := len(got) - 1
		if n < 4 || n > 5 { // the buffer, plus the one the pump holds
			t.Fatalf("slow subscriber got %d events before the gap: %s", n, ids(got))
		}
		for i, e := range got[:n] {
			if e.ID != ev(i).ID {
				t.Fatalf("slow subscriber got %s, want a prefix of the feed", ids(got))
			}
		}
		if gap := got[n]; gap.Dropped != 1000-n {
			t.Fatalf("gap counts %d, want %d", gap.Dropped, 1000-n)
		}
		quiet(t, slow, 50*time.Millisecond)
		if int(h.Dropped()) < 1000-n {
			t.Fatalf("Dropped() = %d, want at least %d", h.Dropped(), 1000-n)
		}

		// Once it has caught up it receives live events again.
		h.Publish(ev(1000))
		if e := recv(t, slow); e.ID != "e1000" {
			t.Fatalf("after the gap got %+v", e)
		}
		// The reading subscriber got to the end too (with gaps of its
		// own if the race detector slows it down).
		select {
		case <-fastGot:
		case <-time.After(5 * time.Second):
			t.Fatal("the reading subscriber never got the last event")
		}
	})

	t.Run("a gap marker goes where events are missing", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{Buffer: 2})
		defer h.Close()
		ch, cancel := h.Subscribe(ctx)
		defer cancel()
		for i := range 10 {
			h.Publish(ev(i))
		}
		got := []livefeed.Event{recv(t, ch)}
		// Now there is room again: the next event comes after a gap.
		for got[len(got)-1].Kind != livefeed.KindGap {
			got = append(got, recv(t, ch))
		}
		h.Publish(ev(10))
		got = append(got, recv(t, ch))
		s := ids(got)
		if !strings.HasPrefix(s, "e0 e1 ") || !strings.HasSuffix(s, " e10") || strings.Count(s, "gap(") != 1 {
			t.Fatalf("got %s", s)
		}
	})

	t.Run("MarkGap tells every subscriber, count unknown", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{})
		defer h.Close()
		ch, cancel := h.Subscribe(ctx)
		defer cancel()
		h.Publish(ev(1))
		h.MarkGap()
		h.Publish(ev(2))
		if got := ids(take(t, ch, 3)); got != "e1 gap(0) e2" {
			t.Fatalf("got %s", got)
		}
	})

	t.Run("a new subscriber gets the backlog first", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{Backlog: 5})
		defer h.Close()
		for i := range 8 {
			h.Publish(ev(i))
		}
		ch, cancel := h.Subscribe(ctx)
		defer cancel()
		h.Publish(ev(8))
		if got := ids(take(t, ch, 6)); got != "e3 e4 e5 e6 e7 e8" {
			t.Fatalf("got %s", got)
		}
		if got := ids(h.Backlog()); got != "e4 e5 e6 e7 e8" {
			t.Fatalf("backlog %s", got)
		}
	})

	t.Run("Last-Event-ID in the backlog resumes after it", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{Backlog: 5})
		defer h.Close()
		for i := range 8 {
			h.Publish(ev(i))
		}
		ch, cancel := h.SubscribeAfter(ctx, "e5")
		defer cancel()
		h.Publish(ev(8))
		if got := ids(take(t, ch, 3)); got != "e6 e7 e8" {
			t.Fatalf("got %s", got)
		}
	})

	t.Run("Last-Event-ID older than the backlog gets a gap, then the backlog", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{Backlog: 5})
		defer h.Close()
		for i := range 8 {
			h.Publish(ev(i))
		}
		ch, cancel := h.SubscribeAfter(ctx, "e1")
		defer cancel()
		if got := ids(take(t, ch, 6)); got != "gap(0) e3 e4 e5 e6 e7" {
			t.Fatalf("got %s", got)
		}
	})

	t.Run("the channel closes on cancel, on ctx end and on Close", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{})
		ch1, cancel1 := h.Subscribe(ctx)
		cctx, cancelCtx := context.WithCancel(ctx)
		ch2, cancel2 := h.Subscribe(cctx)
		defer cancel2()
		ch3, cancel3 := h.Subscribe(ctx)
		defer cancel3()

		cancel1()
		cancel1() // twice is fine
		closed(t, ch1)
		cancelCtx()
		closed(t, ch2)
		waitFor(t, func() bool { return livefeed.SubscriberCount(h) == 1 })

		h.Close()
		closed(t, ch3)
		h.Publish(ev(1)) // does nothing, does not panic
		ch4, cancel4 := h.Subscribe(ctx)
		defer cancel4()
		closed(t, ch4)
	})

	t.Run("publish gives unusable IDs a random one and never passes a gap on", func(t *testing.T) {
		h := livefeed.NewHub(livefeed.Options{})
		defer h.Close()
		ch, cancel := h.Subscribe(ctx)
		defer cancel()
		h.Publish(livefeed.Event{ID: "a\nb", Kind: livefeed.KindGap, Dropped: 7})
		e := recv(t, ch)
		if e.ID == "a\nb" || e.ID == "" || strings.ContainsAny(e.ID, "\r\n") || e.Kind != livefeed.KindEvent || e.Dropped != 0 || e.At.IsZero() {
			t.Fatalf("got %+v", e)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		summary string
	}{
		{"cuts a long summary under PostgreSQL's limit", strings.Repeat("x", 20000)},
		{"counts JSON escapes", strings.Repeat("<", 5000)},
		{"cuts at a character boundary", strings.Repeat("é", 5000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, b, err := livefeed.Encode(livefeed.Event{ID: "x", Kind: livefeed.KindAlert, Summary: tc.summary})
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > livefeed.MaxPayload || len(b) < livefeed.MaxPayload-64 {
				t.Fatalf("payload %d bytes, want just under %d", len(b), livefeed.MaxPayload)
			}
			if !strings.HasSuffix(e.Summary, "…") || !utf8.ValidString(e.Summary) {
				t.Fatalf("summary not cut cleanly: ...%q", e.Summary[len(e.Summary)-10:])
			}
		})
	}
	t.Run("leaves a short summary alone", func(t *testing.T) {
		e, _, err := livefeed.Encode(livefeed.Event{ID: "x", Summary: "3 failed sign-ins"})
		if err != nil || e.Summary != "3 failed sign-ins" {
			t.Fatalf("%q %v", e.Summary, err)
		}
	})
	t.Run("refuses an event that cannot fit", func(t *testing.T) {
		_, _, err := livefeed.Encode(livefeed.Event{ID: "x", Action: strings.Repeat("a", 9000)})
		if !errors.Is(err, livefeed.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLocalPublishesAfterCommit(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t, dbtest.Options{NoMigrate: true})
	h := livefeed.NewHub(livefeed.Options{})
	defer h.Close()
	ch, cancel := h.Subscribe(ctx)
	defer cancel()
	var pub livefeed.Publisher = livefeed.Local{Hub: h}

	t.Run("not before the commit, then once", func(t *testing.T) {
		err := d.Transact(ctx, func(tx *db.Tx) error {
			if err := pub.Publish(ctx, tx, ev(1)); err != nil {
				return err
			}
			quiet(t, ch, 50*time.Millisecond)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if e := recv(t, ch); e.ID != "e1" {
			t.Fatalf("got %+v", e)
		}
	})
	t.Run("never after a rollback", func(t *testing.T) {
		d.Transact(ctx, func(tx *db.Tx) error {
			pub.Publish(ctx, tx, ev(2))
			return errors.New("roll back")
		})
		quiet(t, ch, 50*time.Millisecond)
	})
	t.Run("at once without a transaction", func(t *testing.T) {
		if err := pub.Publish(ctx, nil, ev(3)); err != nil {
			t.Fatal(err)
		}
		if e := recv(t, ch); e.ID != "e3" {
			t.Fatalf("got %+v", e)
		}
	})
}
