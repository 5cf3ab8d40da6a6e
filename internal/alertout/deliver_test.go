package alertout

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestConcurrentPassesSendOnce: four passes running at once, taking one
// row per claim so that their claims race, send every alert exactly once
// (CP-8.1: the lease; FOR UPDATE SKIP LOCKED on PostgreSQL).
func TestConcurrentPassesSendOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		var mu sync.Mutex
		got := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			got[r.Header.Get(HeaderEventID)]++
			mu.Unlock()
		}))
		defer srv.Close()
		const alerts, passes = 40, 4
		var svcs []*Service
		for range passes {
			s, _ := newTestService(t, d, Config{WebhookURL: srv.URL, WebhookSecret: testSecret})
			s.batchSize = 1
			svcs = append(svcs, s)
		}
		for i := range alerts {
			queue(t, svcs[0], alert{ID: fmt.Sprint("al_", i), Rule: "r", Severity: "low"})
		}
		var wg sync.WaitGroup
		var total sync.Mutex
		sent := 0
		for _, s := range svcs {
			wg.Go(func() {
				n, _, err := s.DeliverDue(context.Background())
				if err != nil {
					t.Errorf("DeliverDue: %v", err)
				}
				total.Lock()
				sent += n
				total.Unlock()
			})
		}
		wg.Wait()
		if sent != alerts || len(got) != alerts {
			t.Errorf("sent %d, receiver got %d distinct alerts; want %d", sent, len(got), alerts)
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("alert %s sent %d times", id, n)
			}
		}
		for _, r := range rows(t, d) {
			if r.status != "sent" || r.attempts != 1 {
				t.Errorf("row = %+v, want sent after 1 attempt", r)
			}
		}
	})
}

// TestDisabledChannelWaits: alerts queued for a channel that this node
// does not send on (not configured here, or its settings wrong) stay
// pending, untouched: nothing is lost by a configuration change.
func TestDisabledChannelWaits(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	both, _ := newTestService(t, d, Config{WebhookURL: srv.URL, WebhookSecret: testSecret, SyslogAddr: "127.0.0.1:1"})
	queue(t, both, alert{ID: "al_1", Rule: "r", Severity: "low"})
	webhookOnly, _ := newTestService(t, d, Config{WebhookURL: srv.URL, WebhookSecret: testSecret})
	deliver(t, webhookOnly, 1, 0)
	for _, r := range rows(t, d) {
		want := map[string]string{"webhook": "sent", "syslog": "pending"}[r.channel]
		if r.status != want || (r.channel == "syslog" && r.attempts != 0) {
			t.Errorf("row = %+v, want %s", r, want)
		}
	}
	none, _ := newTestService(t, d, Config{})
	deliver(t, none, 0, 0)
}

// TestLostLeaseRecordsNothing: a pass whose lease ran out (a stalled node)
// and whose rows another pass has claimed since records nothing: it cannot
// release the other pass's claim, so no third pass can take the row while
// the second one is sending it.
func TestLostLeaseRecordsNothing(t *testing.T) {
	eachWithClock(t, func(t *testing.T, d *db.DB, c *dbtest.Clock) {
		s, logs := newTestService(t, d, Config{WebhookURL: "http://127.0.0.1:1/", WebhookSecret: testSecret})
		queue(t, s, alert{ID: "al_1", Rule: "r", Severity: "low"})
		ctx := context.Background()
		first, err := s.claim(ctx, "first")
		if err != nil || len(first) != 1 {
			t.Fatalf("first claim = %v, %v", first, err)
		}
		c.Add(s.lease + time.Second)
		second, err := s.claim(ctx, "second")
		if err != nil || len(second) != 1 {
			t.Fatalf("second claim after the lease = %v, %v", second, err)
		}
		s.record(ctx, "first", first[0], outcome{reason: "webhook: refused (HTTP 500)"})
		s.record(ctx, "first", first[0], outcome{sent: true})
		r := onlyRow(t, d)
		if r.status != "pending" || r.claimedBy.String != "second" || r.attempts != 2 || r.lastError != "" {
			t.Fatalf("row = %+v, want still claimed by the second pass", r)
		}
		if !strings.Contains(logs.String(), "lease was lost") {
			t.Errorf("no warning about the lost lease:\n%s", logs)
		}
		s.record(ctx, "second", second[0], outcome{sent: true})
		if r := onlyRow(t, d); r.status != "sent" {
			t.Fatalf("row = %+v, want sent by the pass that holds it", r)
		}
	})
}
