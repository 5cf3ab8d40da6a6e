package livefeed_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/livefeed"
)

// node is one simulated Portico node: a hub and its listener.
type node struct {
	hub *livefeed.Hub
	pg  *livefeed.Postgres
	ch  <-chan livefeed.Event
}

func newNode(t *testing.T, url, channel string) node {
	t.Helper()
	ctx := context.Background()
	h := livefeed.NewHub(livefeed.Options{})
	t.Cleanup(h.Close)
	pg, err := livefeed.NewPostgres(ctx, url, channel, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	ch, cancel := h.Subscribe(ctx)
	t.Cleanup(cancel)
	return node{hub: h, pg: pg, ch: ch}
}

// testChannel is a notification channel of this test alone: channels are
// per database, and the test server is shared.
func testChannel() string { return "lf_" + strings.ToLower(rand.Text()[:16]) }

func TestPostgres(t *testing.T) {
	ctx := context.Background()
	url := dbtest.PostgresURL(t)
	sqlDB, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()

	t.Run("an event notified via one node arrives at both exactly once", func(t *testing.T) {
		channel := testChannel()
		a, b := newNode(t, url, channel), newNode(t, url, channel)
		if err := a.pg.Publish(ctx, sqlDB, ev(1)); err != nil {
			t.Fatal(err)
		}
		if err := b.pg.Publish(ctx, sqlDB, ev(2)); err != nil {
			t.Fatal(err)
		}
		for name, n := range map[string]node{"a": a, "b": b} {
			// Notifications arrive in commit order, so a duplicate of
			// e1 would show before e2.
			if got := ids(take(t, n.ch, 2)); got != "e1 e2" {
				t.Fatalf("node %s got %s", name, got)
			}
			quiet(t, n.ch, 100*time.Millisecond)
			if got := n.hub.Backlog(); len(got) != 2 || !got[0].At.Equal(ev(1).At) || got[0].Action != "signin" {
				t.Fatalf("node %s backlog %+v", name, got)
			}
		}
	})

	t.Run("a notification inside a transaction goes out at commit, never on rollback", func(t *testing.T) {
		channel := testChannel()
		n := newNode(t, url, channel)
		d, err := db.Open(ctx, db.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		d.Transact(ctx, func(tx *db.Tx) error {
			n.pg.Publish(ctx, tx, ev(1))
			return errors.New("roll back")
		})
		err = d.Transact(ctx, func(tx *db.Tx) error {
			if err := n.pg.Publish(ctx, tx, ev(2)); err != nil {
				return err
			}
			quiet(t, n.ch, 100*time.Millisecond)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(take(t, n.ch, 1)); got != "e2" {
			t.Fatalf("got %s", got)
		}
		quiet(t, n.ch, 100*time.Millisecond)
	})

	t.Run("a summary too long for NOTIFY is cut, not refused", func(t *testing.T) {
		n := newNode(t, url, testChannel())
		e := ev(1)
		e.Summary = strings.Repeat("<é>", 4000)
		if err := n.pg.Publish(ctx, sqlDB, e); err != nil {
			t.Fatal(err)
		}
		got := recv(t, n.ch)
		if !strings.HasSuffix(got.Summary, "…") || !strings.HasPrefix(e.Summary, strings.TrimSuffix(got.Summary, "…")) {
			t.Fatalf("summary of %d bytes not a clean cut", len(got.Summary))
		}
	})

	t.Run("the listener reconnects after its connection is killed", func(t *testing.T) {
		channel := testChannel()
		n := newNode(t, url, channel)
		pid := livefeed.BackendPID(n.pg)
		var killed bool
		if err := sqlDB.QueryRowContext(ctx, "SELECT pg_terminate_backend($1)", int64(pid)).Scan(&killed); err != nil || !killed {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, killed, err)
		}
		// Probe until an event gets through: those sent before the
		// listener is back are lost, and the viewer is told so.
		var got []livefeed.Event
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; len(got) == 0 || got[len(got)-1].Kind == livefeed.KindGap; i++ {
			if time.Now().After(deadline) {
				t.Fatalf("no event through after the kill; got %s", ids(got))
			}
			if err := n.pg.Publish(ctx, sqlDB, ev(i)); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-n.ch:
				got = append(got, e)
			case <-time.After(100 * time.Millisecond):
			}
		}
		if got[0].Kind != livefeed.KindGap {
			t.Fatalf("got %s, want a gap marker first", ids(got))
		}
		if livefeed.BackendPID(n.pg) == pid {
			t.Fatal("same backend after the kill")
		}
	})

	t.Run("an idle listener checks its connection and keeps it", func(t *testing.T) {
		defer livefeed.SetHealthEvery(50 * time.Millisecond)()
		channel := testChannel()
		n := newNode(t, url, channel)
		pid := livefeed.BackendPID(n.pg)
		time.Sleep(300 * time.Millisecond) // several idle checks
		if err := n.pg.Publish(ctx, sqlDB, ev(1)); err != nil {
			t.Fatal(err)
		}
		if got := ids(take(t, n.ch, 1)); got != "e1" {
			t.Fatalf("got %s (a gap means the connection was dropped)", got)
		}
		if livefeed.BackendPID(n.pg) != pid {
			t.Fatal("the idle check replaced the connection")
		}
	})

	t.Run("Close stops the listener", func(t *testing.T) {
		channel := testChannel()
		n := newNode(t, url, channel)
		pid := livefeed.BackendPID(n.pg)
		n.pg.Close()
		waitFor(t, func() bool {
			var alive bool
			sqlDB.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", int64(pid)).Scan(&alive)
			return !alive
		})
	})
}

func TestNewPostgresRefuses(t *testing.T) {
	ctx := context.Background()
	h := livefeed.NewHub(livefeed.Options{})
	defer h.Close()
	for _, tc := range []struct{ name, url, channel string }{
		{"a channel PostgreSQL would fold or need quoting for", "postgres://u@127.0.0.1:1/db", "Live-Feed"},
		{"an empty channel", "postgres://u@127.0.0.1:1/db", ""},
		{"an unparsable URL, without echoing its password", "postgres://u:s3cret@[::1/db", "live"},
		{"an unreachable server, without echoing the password", "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2", "live"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := livefeed.NewPostgres(ctx, tc.url, tc.channel, h, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
	t.Run("Notify refuses a bad channel", func(t *testing.T) {
		if err := livefeed.Notify(ctx, nil, "x;DROP", ev(1)); err == nil {
			t.Fatal("no error")
		}
	})
}
