package alertout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that answers with the given statuses in
// turn (the last one from then on) and keeps what it got.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []received
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, received{r.Header.Clone(), body})
	status := rc.statuses[min(len(rc.got), len(rc.statuses))-1]
	rc.mu.Unlock()
	w.WriteHeader(status)
	fmt.Fprint(w, "receiver's own text: must not be stored")
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// TestWebhookSignedRequest: the alert is POSTed as JSON with the row's
// event ID, the send time and a signature that Verify accepts with the
// shared secret (CP-8.1).
func TestWebhookSignedRequest(t *testing.T) {
	eachWithClock(t, func(t *testing.T, d *db.DB, c *dbtest.Clock) {
		rc := &receiver{statuses: []int{http.StatusNoContent}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		s, _ := newTestService(t, d, Config{WebhookURL: srv.URL + "/hook", WebhookSecret: testSecret})
		a := alert{ID: "al_1", Rule: "impossible-travel", Severity: "medium", Count: 2}
		queue(t, s, a)
		c.Add(90 * time.Second) // sent later than queued
		deliver(t, s, 1, 0)

		reqs := rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(reqs))
		}
		r, h := onlyRow(t, d), reqs[0].header
		want, _ := json.Marshal(a)
		if string(reqs[0].body) != string(want) {
			t.Errorf("body = %s, want %s", reqs[0].body, want)
		}
		if got := h.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := h.Get(HeaderEventID); got != r.id {
			t.Errorf("%s = %q, want the row ID %q", HeaderEventID, got, r.id)
		}
		if got, want := h.Get(HeaderTimestamp), strconv.FormatInt(c.Now().Unix(), 10); got != want {
			t.Errorf("%s = %q, want the send time %q", HeaderTimestamp, got, want)
		}
		if err := Verify(testSecret, h.Get(HeaderTimestamp), h.Get(HeaderSignature), reqs[0].body, c.Now(), time.Minute); err != nil {
			t.Errorf("Verify = %v", err)
		}
		if err := Verify([]byte("another secret, as long as the first!"), h.Get(HeaderTimestamp), h.Get(HeaderSignature), reqs[0].body, c.Now(), time.Minute); !errors.Is(err, ErrBadSignature) {
			t.Errorf("Verify with another secret = %v, want ErrBadSignature", err)
		}
		if r.status != "sent" || r.attempts != 1 || r.lastError != "" || r.claimedBy.Valid {
			t.Errorf("row = %+v, want sent after 1 attempt, unclaimed", r)
		}
		deliver(t, s, 0, 0) // nothing left
	})
}

// TestWebhookRetriesUntilDelivered: a receiver that answers 500 twice, then
// 200, gets the alert delivered on the third attempt, not before its
// back-off, with the same event ID each time, and the row ends sent
// (CP-3.2, CP-8.1: retried, nothing lost).
func TestWebhookRetriesUntilDelivered(t *testing.T) {
	eachWithClock(t, func(t *testing.T, d *db.DB, c *dbtest.Clock) {
		rc := &receiver{statuses: []int{500, 500, 200}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		s, _ := newTestService(t, d, Config{
			WebhookURL: srv.URL, WebhookSecret: testSecret, MaxAttempts: 5,
			Backoff: func(n int) time.Duration { return time.Duration(n) * time.Minute },
		})
		queue(t, s, alert{ID: "al_1", Rule: "mass-export", Severity: "high"})

		deliver(t, s, 0, 1)
		if r := onlyRow(t, d); r.status != "pending" || r.lastError != "webhook: refused (HTTP 500)" {
			t.Fatalf("after a 500: %+v, want pending with a fixed reason", r)
		}
		deliver(t, s, 0, 0) // backing off: 1 minute
		c.Add(time.Minute)
		deliver(t, s, 0, 1)
		c.Add(time.Minute)
		deliver(t, s, 0, 0) // backing off: 2 minutes
		c.Add(time.Minute)
		deliver(t, s, 1, 0)

		r := onlyRow(t, d)
		if r.status != "sent" || r.attempts != 3 || r.lastError != "" {
			t.Fatalf("row = %+v, want sent after 3 attempts", r)
		}
		reqs := rc.requests()
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(reqs))
		}
		for _, q := range reqs {
			if q.header.Get(HeaderEventID) != r.id {
				t.Errorf("event ID %q, want %q on every attempt", q.header.Get(HeaderEventID), r.id)
			}
		}
		c.Add(time.Hour)
		deliver(t, s, 0, 0)
		if n := len(rc.requests()); n != 3 {
			t.Fatalf("receiver got %d requests after delivery, want 3", n)
		}
	})
}

// TestWebhookDeadReceiverFails: with nobody listening, the alert is tried
// MaxAttempts times and then marked failed, with a fixed reason and an
// error log line that does not carry the payload (CP-3.2).
func TestWebhookDeadReceiverFails(t *testing.T) {
	eachWithClock(t, func(t *testing.T, d *db.DB, c *dbtest.Clock) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		s, logs := newTestService(t, d, Config{
			WebhookURL: url, WebhookSecret: testSecret, MaxAttempts: 3,
			Backoff: func(int) time.Duration { return time.Second },
		})
		queue(t, s, alert{ID: "al_1", Rule: "rule-name-not-for-logs", Severity: "low"})
		for i := 1; i <= 3; i++ {
			deliver(t, s, 0, 1)
			r := onlyRow(t, d)
			want := "pending"
			if i == 3 {
				want = "failed"
			}
			if r.status != want || r.attempts != i || r.lastError != "webhook: cannot connect" {
				t.Fatalf("after attempt %d: %+v, want %s with a fixed reason", i, r, want)
			}
			c.Add(time.Second)
		}
		c.Add(time.Hour)
		deliver(t, s, 0, 0) // given up: not tried again
		out := logs.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "failed for good") {
			t.Errorf("no error logged for the failed alert:\n%s", out)
		}
		if strings.Contains(out, "rule-name-not-for-logs") {
			t.Errorf("the payload is in the log:\n%s", out)
		}
	})
}

// TestWebhookRefusesRedirect: a redirect is a failed attempt, not followed:
// a signed alert goes to the configured URL only.
func TestWebhookRefusesRedirect(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s, _ := newTestService(t, d, Config{WebhookURL: srv.URL + "/hook", WebhookSecret: testSecret})
	queue(t, s, alert{ID: "al_1", Rule: "r", Severity: "low"})
	deliver(t, s, 0, 1)
	if hits.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
	if r := onlyRow(t, d); r.status != "pending" || r.lastError != "webhook: redirect refused (HTTP 302)" {
		t.Fatalf("row = %+v, want pending, redirect refused", r)
	}
}

// TestVerify: a receiver's check accepts the genuine request and refuses a
// tampered body, a stale or future timestamp, another secret and
// malformed headers (CP-8.1).
func TestVerify(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	body := []byte(`{"id":"al_1","rule":"r","severity":"high"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := sign(testSecret, ts, body)
	tol := 5 * time.Minute
	if err := Verify(testSecret, ts, sig, body, now.Add(tol), tol); err != nil {
		t.Fatalf("genuine request, at the edge of the window: %v", err)
	}
	for _, tc := range []struct {
		name      string
		secret    []byte
		ts, sig   string
		body      []byte
		now       time.Time
		wantError error
	}{
		{"rejects a tampered body", testSecret, ts, sig, []byte(`{"id":"al_1","rule":"r","severity":"low"}`), now, ErrBadSignature},
		{"rejects a stale timestamp", testSecret, ts, sig, body, now.Add(tol + time.Second), ErrStaleTimestamp},
		{"rejects a future timestamp", testSecret, ts, sig, body, now.Add(-tol - time.Second), ErrStaleTimestamp},
		{"rejects a replay with a fresh timestamp", testSecret, strconv.FormatInt(now.Unix()+60, 10), sig, body, now, ErrBadSignature},
		{"rejects another secret", []byte("another secret entirely, 32 bytes"), ts, sig, body, now, ErrBadSignature},
		{"rejects an empty secret", nil, ts, sign(nil, ts, body), body, now, ErrBadSignature},
		{"rejects a signature without its scheme", testSecret, ts, strings.TrimPrefix(sig, "sha256="), body, now, ErrBadSignature},
		{"rejects a truncated signature", testSecret, ts, sig[:len(sig)-2], body, now, ErrBadSignature},
		{"rejects a timestamp that is not a number", testSecret, "soon", sig, body, now, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.secret, tc.ts, tc.sig, tc.body, tc.now, tol); !errors.Is(err, tc.wantError) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantError)
			}
		})
	}
}
