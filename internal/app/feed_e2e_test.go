package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/session"
)

// TestSecurityFeedAcrossNodes (CP-8.1): two `portico serve` nodes on one
// PostgreSQL database. Sign-in failures recorded through either node reach
// the live feed of both, once each, though only one node runs the rules
// (it publishes with NOTIFY; every node listens).
func TestSecurityFeedAcrossNodes(t *testing.T) {
	url := dbtest.PostgresURL(t)
	mail := mailtest.Start(t)
	cfg1 := e2eConfig(t, mail.URL(), "--database-url", url)
	r1 := startApp(t, cfg1)
	cfg2 := e2eConfig(t, mail.URL(), "--database-url", url)
	cfg2.DataDir = cfg1.DataDir // the same master keyset and certificate
	r2 := startApp(t, cfg2)
	ids := identityFor(t, r1, cfg1)
	token, _ := signedIn(t, r1.Storage(), ids, "sec.feed@example.test", access.RoleSecurity, "feed-test")

	type stream struct {
		mu  sync.Mutex
		ids map[string]int
	}
	watch := func(base string) *stream {
		s := &stream{ids: map[string]int{}}
		req, err := http.NewRequest("GET", base+"/security/feed", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: session.CookieName, Value: token})
		req.Header.Set("User-Agent", "feed-test") // the session's own browser
		c := insecureClient()
		c.Timeout = 0
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("%s/security/feed: %d %s", base, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		t.Cleanup(func() { resp.Body.Close() })
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
					s.mu.Lock()
					s.ids[id]++
					s.mu.Unlock()
				}
			}
		}()
		return s
	}
	one, two := watch(r1.URL()), watch(r2.URL())

	// Three failed sign-ins on an unknown address, one through each
	// node's storage and one more.
	ctx := context.Background()
	var seqs []int64
	for i, st := range []*struct{ r *running }{{r1}, {r2}, {r1}} {
		l := audit.New(st.r.Storage().DB)
		rec, err := l.Record(audit.WithRequest(ctx, audit.Request{IP: fmt.Sprintf("198.51.100.%d", i+1)}),
			audit.Event{Action: "login.failure", Target: "account:unknown", Outcome: audit.Failure, Details: map[string]any{"reason": "unknown_account"}})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, rec.Seq)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		done := true
		for _, s := range []*stream{one, two} {
			s.mu.Lock()
			for _, seq := range seqs {
				if s.ids[fmt.Sprintf("e%d", seq)] != 1 {
					done = false
				}
			}
			s.mu.Unlock()
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %v not on both feeds once: node one %v, node two %v", seqs, one.ids, two.ids)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
