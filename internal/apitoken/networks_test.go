package apitoken_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/policy"
)

// newNetworkEvents returns the token.new_network records of the trail.
func newNetworkEvents(t *testing.T, d *db.DB) []audit.Record {
	t.Helper()
	recs, err := audit.New(d).After(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		if r.Action == "token.new_network" {
			out = append(out, r)
		}
	}
	return out
}

// storedNetworks reads the token's networks column.
func storedNetworks(t *testing.T, d *db.DB, id string) (raw string, nets []string) {
	t.Helper()
	if err := d.QueryRowContext(context.Background(), `SELECT networks FROM api_tokens WHERE id = $1`, id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &nets); err != nil {
		t.Fatalf("networks %q: %v", raw, err)
	}
	return raw, nets
}

// TestTokenNewNetwork (CP-8.2, CP-6.3), on both dialects: a token's first
// use teaches its network and reports nothing; further uses from that
// network (another address of its /24) report nothing; a use from a new
// network is audited once, as token.new_network on the token with the
// holder's account and the request's address, and detection raises
// token_new_network from that trail. The networks are stored as keyed
// hashes, never as addresses.
func TestTokenNewNetwork(t *testing.T) {
	each(t, func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store) {
		ctx := context.Background()
		raw, tok, err := st.Create(ctx, agent, "ci", []access.Permission{access.TicketQueue}, 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		use := func(ip string) {
			t.Helper()
			if _, err := st.Authenticate(audit.WithRequest(ctx, audit.Request{IP: ip}), raw, ip); err != nil {
				t.Fatalf("Authenticate from %s: %v", ip, err)
			}
		}

		t.Run("first use teaches", func(t *testing.T) {
			use("203.0.113.5")
			if ev := newNetworkEvents(t, d); len(ev) != 0 {
				t.Fatalf("first use reported: %+v", ev)
			}
			col, nets := storedNetworks(t, d, tok.ID)
			if len(nets) != 1 || strings.Contains(col, "203.0.113") {
				t.Fatalf("networks after the first use: %s", col)
			}
		})
		t.Run("same network again emits nothing", func(t *testing.T) {
			clk.Add(2 * time.Minute) // past the once-a-minute write
			use("203.0.113.77")
			clk.Add(10 * time.Second)
			use("203.0.113.5")
			if ev := newNetworkEvents(t, d); len(ev) != 0 {
				t.Fatalf("a known network reported: %+v", ev)
			}
			if _, nets := storedNetworks(t, d, tok.ID); len(nets) != 1 {
				t.Fatalf("networks %v, want one", nets)
			}
		})
		t.Run("new network emits exactly one event", func(t *testing.T) {
			clk.Add(5 * time.Second) // within the minute: the new network alone writes
			use("198.51.100.7")
			use("198.51.100.8")
			ev := newNetworkEvents(t, d)
			if len(ev) != 1 {
				t.Fatalf("%d token.new_network events, want 1: %+v", len(ev), ev)
			}
			e := ev[0]
			if e.Target != "token:"+tok.ID || e.IP != "198.51.100.7" || e.Actor != "account:agent" || string(e.Details) != `{"account":"agent"}` {
				t.Fatalf("event %+v %s", e, e.Details)
			}
			col, nets := storedNetworks(t, d, tok.ID)
			if len(nets) != 2 || strings.Contains(col, "198.51.100") {
				t.Fatalf("networks after a new one: %s", col)
			}
		})
		t.Run("detection raises token_new_network", func(t *testing.T) {
			recs, err := audit.New(d).After(ctx, 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := policy.Builtin(policy.Default)
			e := detect.NewEngine(p.Detection, nil)
			var alerts []detect.Alert
			for _, r := range recs {
				if ev, ok := detect.FromAudit(r); ok {
					alerts = append(alerts, e.Observe(ev)...)
				}
			}
			var got []detect.Alert
			for _, a := range alerts {
				if a.Rule == detect.RuleTokenNewNetwork {
					got = append(got, a)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d token_new_network alerts, want 1 (all: %+v)", len(got), alerts)
			}
			a := got[0]
			if a.Subject != tok.ID || a.SubjectKind != detect.SubjectToken || !slices.Equal(a.Accounts, []string{"agent"}) ||
				!slices.Equal(a.Networks, []string{"198.51.100.0/24"}) || a.Severity != detect.SeverityMedium {
				t.Fatalf("alert %+v", a)
			}
		})
	})
}

// TestTokenNetworksAreCapped: a token remembers its 16 most recently used
// networks; one used again moves up, and one dropped is reported again
// when it comes back.
func TestTokenNetworksAreCapped(t *testing.T) {
	each(t, func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store) {
		ctx := context.Background()
		raw, tok, err := st.Create(ctx, agent, "ci", []access.Permission{access.TicketQueue}, 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		use := func(ip string) {
			t.Helper()
			if _, err := st.Authenticate(ctx, raw, ip); err != nil {
				t.Fatalf("Authenticate from %s: %v", ip, err)
			}
		}
		use("10.0.0.1") // the first network
		for i := 1; i <= 15; i++ {
			use(fmt.Sprintf("10.0.%d.1", i))
		}
		clk.Add(time.Minute)
		use("10.0.0.2") // the first network used again: now the most recent
		use("10.0.16.1")
		if _, nets := storedNetworks(t, d, tok.ID); len(nets) != 16 {
			t.Fatalf("%d networks remembered, want 16", len(nets))
		}
		before := len(newNetworkEvents(t, d))
		use("10.0.0.3") // kept: used recently
		if n := len(newNetworkEvents(t, d)); n != before {
			t.Fatalf("a recently used network was forgotten: %d events, had %d", n, before)
		}
		use("10.0.1.9") // dropped: the least recently used
		if n := len(newNetworkEvents(t, d)); n != before+1 {
			t.Fatalf("a forgotten network came back with %d new events, want 1", n-before)
		}
	})
}

// TestKnownNetworkUseDoesNotWrite: the hot path. With the token's row
// held by another writer (and, on SQLite, the only write connection
// busy), a use within the minute from a network the token knows answers
// at once: it takes no write transaction. A use from a new network has to
// wait for the writer, which shows the test would see a write.
func TestKnownNetworkUseDoesNotWrite(t *testing.T) {
	each(t, func(t *testing.T, d *db.DB, clk *clock, st *apitoken.Store) {
		ctx := context.Background()
		raw, tok, err := st.Create(ctx, agent, "ci", []access.Permission{access.TicketQueue}, 30*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Authenticate(ctx, raw, "203.0.113.5"); err != nil {
			t.Fatal(err)
		}
		clk.Add(10 * time.Second)

		held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- d.Transact(ctx, func(tx *db.Tx) error {
				if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET name = name WHERE id = $1`, tok.ID); err != nil {
					return err
				}
				close(held)
				<-release
				return nil
			})
		}()
		<-held
		defer func() {
			close(release)
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()

		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := st.Authenticate(short, raw, "203.0.113.9"); err != nil {
			t.Fatalf("a use from a known network waited for the writer: %v", err)
		}
		quick, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel2()
		if _, err := st.Authenticate(quick, raw, "198.51.100.7"); err == nil {
			t.Fatalf("a use from a new network did not wait for the writer: %v", err)
		}
	})
}
