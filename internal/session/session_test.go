package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// TestCreateAndAuthenticate covers CP-4.1 and CP-6.3: a sign-in gives a
// token of two 26-character parts; the session records its assurance
// level and methods, device, country and deadlines; Authenticate returns it.
func TestCreateAndAuthenticate(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		token, created := create(t, st, d, start(acct))

		id, secret, ok := strings.Cut(token, ".")
		if !ok || len(id) != 26 || len(secret) != 26 || id != created.ID || id == secret {
			t.Fatalf("token %q does not look like <id>.<secret> for session %q", token, created.ID)
		}
		now := c.Now()
		want := session.Session{
			ID: id, AccountID: acct, Role: "customer", AAL: session.AAL1, Methods: []string{"password"},
			CreatedAt: now, LastSeenAt: now, ReauthAt: now, ExpiresAt: now.Add(12 * time.Hour),
			Device: "Firefox 140 on Linux", Country: "GB",
		}
		if !equal(created, want) {
			t.Errorf("Create returned\n %+v\nwant\n %+v", created, want)
		}
		got := mustAuth(t, st, token)
		if !equal(got, want) {
			t.Errorf("Authenticate returned\n %+v\nwant\n %+v", got, want)
		}
		if got.IP != "" || got.UserAgent != "" {
			t.Error("Authenticate decrypted the IP address or user agent; only List should")
		}

		// An AAL2 sign-in records both factors.
		s2 := start(acct)
		s2.AAL, s2.Methods = session.AAL2, []string{"password", "totp"}
		token2, _ := create(t, st, d, s2)
		if got := mustAuth(t, st, token2); got.AAL != session.AAL2 || !slices.Equal(got.Methods, []string{"password", "totp"}) {
			t.Errorf("AAL2 session authenticates as aal=%d methods=%v", got.AAL, got.Methods)
		}
	})
}

// equal compares sessions, times by instant.
func equal(a, b session.Session) bool {
	return a.ID == b.ID && a.AccountID == b.AccountID && a.Role == b.Role && a.AAL == b.AAL &&
		slices.Equal(a.Methods, b.Methods) && a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt) &&
		a.ReauthAt.Equal(b.ReauthAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.Device == b.Device && a.Country == b.Country
}

// TestCreateRefusesBadInput covers CP-4.1: the assurance level and methods
// decide what a session may reach, so a wrong value is an error, and a
// refused creation writes nothing.
func TestCreateRefusesBadInput(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		cases := map[string]func(s *session.Start){
			"no account":              func(s *session.Start) { s.AccountID = "" },
			"unknown account":         func(s *session.Start) { s.AccountID = "nosuchaccount" },
			"unknown role":            func(s *session.Start) { s.Role = "root" },
			"aal 0":                   func(s *session.Start) { s.AAL = 0 },
			"aal 3":                   func(s *session.Start) { s.AAL = 3 },
			"no methods":              func(s *session.Start) { s.Methods = nil },
			"comma inside a method":   func(s *session.Start) { s.Methods = []string{"password,totp"} },
			"empty method":            func(s *session.Start) { s.Methods = []string{"password", ""} },
			"upper-case method":       func(s *session.Start) { s.Methods = []string{"TOTP"} },
			"free text in the method": func(s *session.Start) { s.Methods = []string{"pass word"} },
		}
		for name, mutate := range cases {
			s := start(acct)
			mutate(&s)
			err := d.Transact(context.Background(), func(tx *db.Tx) error {
				_, _, err := st.Create(context.Background(), tx, s)
				return err
			})
			if err == nil {
				t.Errorf("%s: created", name)
			}
		}
		var n int
		if err := d.QueryRowContext(context.Background(), `SELECT count(*) FROM sessions`).Scan(&n); err != nil || n != 0 {
			t.Errorf("refused creations left %d sessions (%v)", n, err)
		}
		if ev := events(t, d); len(ev) != 0 {
			t.Errorf("refused creations wrote %d audit events", len(ev))
		}
	})
}

// TestRejectsForgedTokens covers CP-6.3: every token that does not open a
// live session — malformed, unknown ID, wrong secret, another session's
// secret, ended — is refused with the same error, and none of those
// attempts keeps the session alive or writes anything.
func TestRejectsForgedTokens(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		t1, s1 := create(t, st, d, start(acct))
		t2, s2 := create(t, st, d, start(acct))
		t3, s3 := create(t, st, d, start(acct))
		id1, sec1, _ := strings.Cut(t1, ".")
		_, sec2, _ := strings.Cut(t2, ".")
		transact(t, d, func(tx *db.Tx) error { return st.End(context.Background(), tx, acct, s3.ID, "logout") })
		head := len(events(t, d))

		flip := func(s string) string {
			b := []byte(s)
			if b[len(b)-1] == 'a' {
				b[len(b)-1] = 'b'
			} else {
				b[len(b)-1] = 'a'
			}
			return string(b)
		}
		cases := map[string]string{
			"empty":                        "",
			"garbage":                      "garbage",
			"id only":                      id1,
			"id and dot":                   id1 + ".",
			"secret only":                  sec1,
			"another session's secret":     id1 + "." + sec2,
			"secret with one letter wrong": id1 + "." + flip(sec1),
			"unknown id":                   flip(id1) + "." + sec1,
			"parts swapped":                sec1 + "." + id1,
			"upper case":                   strings.ToUpper(t1),
			"trailing space":               t1 + " ",
			"leading space":                " " + t1,
			"other separator":              id1 + ":" + sec1,
			"extra part":                   t1 + "." + sec1,
			"character outside base32":     id1 + "." + sec1[:25] + "8",
			"NUL byte":                     id1 + "." + sec1[:25] + "\x00",
			"non-ASCII":                    id1 + "." + sec1[:24] + "é",
			"SQL":                          "' OR 1=1 --" + strings.Repeat("a", 42),
			"one megabyte":                 strings.Repeat("a", 1<<20),
			"ended session":                t3,
		}
		for name, tok := range cases {
			refused(t, st, tok, name)
		}
		if got := len(events(t, d)); got != head {
			t.Errorf("refused tokens wrote %d audit events", got-head)
		}

		// Knowing a session's ID does not keep it alive: a stream of
		// wrong secrets over 29 minutes is not activity.
		mustAuth(t, st, t2)
		for range 29 {
			c.Advance(time.Minute)
			refused(t, st, id1+"."+sec2, "wrong secret")
			mustAuth(t, st, t2)
		}
		c.Advance(2 * time.Minute)
		refused(t, st, t1, "idle for 31 minutes despite the attempts")
		if got := endState(t, d, s1.ID); got != "idle" {
			t.Errorf("end reason %q, want idle", got)
		}
		if got := endState(t, d, s2.ID); got != "" {
			t.Errorf("the used session ended (%q)", got)
		}
	})
}

// TestTimeouts covers CP-6.3: a session ends once IdleTimeout passes
// without a request, and at AbsoluteTimeout after sign-in however busy it
// is; either end is audited as session.expire.
func TestTimeouts(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")

		t.Run("idle", func(t *testing.T) {
			token, s := create(t, st, d, start(acct))
			c.Advance(30*time.Minute - time.Microsecond)
			mustAuth(t, st, token) // a request just inside the window
			c.Advance(30*time.Minute - time.Microsecond)
			mustAuth(t, st, token)
			c.Advance(30 * time.Minute)
			refused(t, st, token, "idle for exactly IdleTimeout")
			refused(t, st, token, "idle, asked again")
			if got := endState(t, d, s.ID); got != "idle" {
				t.Errorf("end reason %q, want idle", got)
			}
			ev := eventsFor(t, d, "session.expire", "session:"+s.ID)
			if len(ev) != 1 || ev[0].Details["reason"] != "idle" || ev[0].Details["account"] != acct || ev[0].Actor != audit.ActorSystem {
				t.Errorf("session.expire events: %+v", ev)
			}
		})

		t.Run("absolute", func(t *testing.T) {
			token, s := create(t, st, d, start(acct))
			for elapsed := 20 * time.Minute; elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
				c.Advance(20 * time.Minute)
				mustAuth(t, st, token)
			}
			c.Advance(19*time.Minute + 59*time.Second)
			mustAuth(t, st, token) // 11h59m59s
			c.Advance(time.Second)
			refused(t, st, token, "at the absolute deadline")
			if got := endState(t, d, s.ID); got != "expired" {
				t.Errorf("end reason %q, want expired", got)
			}
			ev := eventsFor(t, d, "session.expire", "session:"+s.ID)
			if len(ev) != 1 || ev[0].Details["reason"] != "expired" {
				t.Errorf("session.expire events: %+v", ev)
			}
		})
	})
}

// TestLastSeenWrittenAtMostOnceAMinute covers the hot path: Authenticate
// writes last_seen_at only when the stored value is a minute old, so most
// requests read one row and write nothing.
func TestLastSeenWrittenAtMostOnceAMinute(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		st := newStore(t, d)
		token, s := create(t, st, d, start(newAccount(t, d, "customer")))
		t0 := c.Now()

		writes := 0
		prev := lastSeen(t, d, s.ID)
		step := func(adv time.Duration, want time.Time) {
			t.Helper()
			c.Advance(adv)
			got := mustAuth(t, st, token)
			stored := lastSeen(t, d, s.ID)
			if !stored.Equal(want) || !got.LastSeenAt.Equal(want) {
				t.Errorf("at +%v: stored last_seen %v, returned %v, want %v", c.Now().Sub(t0), stored, got.LastSeenAt, want)
			}
			if !stored.Equal(prev) {
				writes++
				prev = stored
			}
		}
		step(0, t0)
		step(30*time.Second, t0)
		step(29*time.Second, t0)
		step(time.Second-time.Microsecond, t0) // 59.999999s
		step(time.Microsecond, t0.Add(time.Minute))
		for range 50 {
			step(time.Second, t0.Add(time.Minute))
		}
		step(10*time.Second, t0.Add(2*time.Minute))
		if writes != 2 {
			t.Errorf("%d writes of last_seen_at over 55 requests in two minutes, want 2", writes)
		}
		if ev := events(t, d); len(ev) != 1 {
			t.Errorf("%d audit events, want only session.create", len(ev))
		}
	})
}

// TestRotate covers CP-6.3 and CP-4.1: after the second factor (or a
// privilege change) the session gets a new ID and secret, the old token
// stops working, the new assurance level and the account's current role are
// recorded, and the lifetime is not extended. Rotating twice is refused.
func TestRotate(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		t1, _ := create(t, st, d, start(acct))
		c.Advance(2 * time.Minute)
		s1 := mustAuth(t, st, t1)

		var t2 string
		var s2 session.Session
		transact(t, d, func(tx *db.Tx) error {
			var err error
			t2, s2, err = st.Rotate(ctx, tx, s1, session.AAL2, []string{"password", "totp"})
			return err
		})
		refused(t, st, t1, "the token before rotation")
		got := mustAuth(t, st, t2)
		if got.ID == s1.ID || got.ID != s2.ID || got.AccountID != acct || got.AAL != session.AAL2 ||
			!slices.Equal(got.Methods, []string{"password", "totp"}) || got.Role != "customer" {
			t.Errorf("rotated session %+v", got)
		}
		if !got.ExpiresAt.Equal(s1.ExpiresAt) || !got.ReauthAt.Equal(s1.ReauthAt) || !got.CreatedAt.Equal(c.Now()) {
			t.Errorf("rotation changed the deadlines: expires %v (was %v), reauth %v (was %v)", got.ExpiresAt, s1.ExpiresAt, got.ReauthAt, s1.ReauthAt)
		}
		if got.Device != s1.Device || got.Country != s1.Country {
			t.Errorf("device/country %q/%q, want %q/%q", got.Device, got.Country, s1.Device, s1.Country)
		}
		if r := endState(t, d, s1.ID); r != session.ReasonRotated {
			t.Errorf("old session end reason %q", r)
		}
		ev := eventsFor(t, d, "session.rotate", "session:"+s1.ID)
		if len(ev) != 1 || ev[0].Details["replaced_by"] != s2.ID || ev[0].Details["aal"] != float64(2) {
			t.Errorf("session.rotate events %+v", ev)
		}
		// The encrypted context moved with it.
		list, err := st.List(ctx, acct)
		if err != nil || len(list) != 1 || list[0].IP != ipGB || list[0].UserAgent != uaFirefox {
			t.Errorf("List after rotation: %+v, %v", list, err)
		}

		// A replayed rotation of the old session gets nothing.
		err = d.Transact(ctx, func(tx *db.Tx) error {
			_, _, err := st.Rotate(ctx, tx, s1, session.AAL2, []string{"password", "totp"})
			return err
		})
		if err != session.ErrNoSession {
			t.Errorf("second rotation of one session: %v", err)
		}

		// A privilege change takes the account's role from the table.
		transact(t, d, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE accounts SET role = 'support' WHERE id = $1`, acct)
			return err
		})
		var t3 string
		transact(t, d, func(tx *db.Tx) error {
			var err error
			t3, _, err = st.Rotate(ctx, tx, got, session.AAL2, []string{"password", "totp"})
			return err
		})
		if s3 := mustAuth(t, st, t3); s3.Role != "support" {
			t.Errorf("role after rotation %q, want support", s3.Role)
		}
		refused(t, st, t2, "the token before the second rotation")

		// Another account cannot rotate a session it does not own.
		other := newAccount(t, d, "customer")
		t4, s4 := create(t, st, d, start(other))
		forged := s4
		forged.AccountID = acct
		err = d.Transact(ctx, func(tx *db.Tx) error {
			_, _, err := st.Rotate(ctx, tx, forged, session.AAL2, []string{"password", "totp"})
			return err
		})
		if err != session.ErrNoSession {
			t.Errorf("rotation under the wrong account: %v", err)
		}
		mustAuth(t, st, t4)

		// A stale session is not rotated.
		c.Advance(31 * time.Minute)
		err = d.Transact(ctx, func(tx *db.Tx) error {
			_, _, err := st.Rotate(ctx, tx, s4, session.AAL2, []string{"password", "totp"})
			return err
		})
		if err != session.ErrNoSession {
			t.Errorf("rotation of an idle session: %v", err)
		}
	})
}

// TestStepUp covers CP-6.3: a fresh authentication authorises sensitive
// actions for StepUpWindow only; Reauthenticated renews it and is audited.
func TestStepUp(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		token, _ := create(t, st, d, start(acct))

		if s := mustAuth(t, st, token); !st.StepUpFresh(s) {
			t.Error("a new sign-in is not fresh")
		}
		c.Advance(5*time.Minute - time.Microsecond)
		if s := mustAuth(t, st, token); !st.StepUpFresh(s) {
			t.Error("not fresh just inside the window")
		}
		c.Advance(time.Microsecond)
		s := mustAuth(t, st, token)
		if st.StepUpFresh(s) {
			t.Error("fresh at the end of the 5-minute window")
		}

		transact(t, d, func(tx *db.Tx) error { return st.Reauthenticated(ctx, tx, s.ID) })
		s = mustAuth(t, st, token)
		if !s.ReauthAt.Equal(c.Now()) || !st.StepUpFresh(s) {
			t.Errorf("after Reauthenticated: reauth_at %v, now %v", s.ReauthAt, c.Now())
		}
		if ev := eventsFor(t, d, "session.reauth", "session:"+s.ID); len(ev) != 1 || ev[0].Actor != "account:"+acct {
			t.Errorf("session.reauth events %+v", ev)
		}
		if s.StepUpFresh(c.Now(), 0) {
			t.Error("a zero window is fresh")
		}

		// An ended or unknown session cannot be re-authenticated.
		transact(t, d, func(tx *db.Tx) error { return st.End(ctx, tx, acct, s.ID, "logout") })
		for _, id := range []string{s.ID, "nosuchsession"} {
			err := d.Transact(ctx, func(tx *db.Tx) error { return st.Reauthenticated(ctx, tx, id) })
			if err != session.ErrNoSession {
				t.Errorf("Reauthenticated(%q): %v", id, err)
			}
		}
	})
}

// TestEndAndEndAll covers CP-6.3: sessions are revoked on the server. End
// ends one session of the account only (another account's session answers
// NotFound and keeps working); EndAll keeps the caller's own session.
func TestEndAndEndAll(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		ctx := audit.WithActor(context.Background(), "someone")
		st := newStore(t, d)
		alice := newAccount(t, d, "customer")
		bob := newAccount(t, d, "customer")
		ta1, a1 := create(t, st, d, start(alice))
		ta2, a2 := create(t, st, d, start(alice))
		ta3, a3 := create(t, st, d, start(alice))
		tb1, b1 := create(t, st, d, start(bob))

		end := func(account, id, reason string) error {
			return d.Transact(ctx, func(tx *db.Tx) error { return st.End(ctx, tx, account, id, reason) })
		}
		if err := end(bob, a1.ID, "ended_by_user"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("Bob ending Alice's session: %v", err)
		}
		if err := end(alice, "nosuchsession", "ended_by_user"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("ending an unknown session: %v", err)
		}
		mustAuth(t, st, ta1)
		for _, bad := range []string{"", "Logout", "logged out by alice@example.com", strings.Repeat("x", 49)} {
			if err := end(alice, a1.ID, bad); err == nil {
				t.Errorf("reason %q accepted", bad)
			}
		}
		mustAuth(t, st, ta1)

		if err := end(alice, a1.ID, "logout"); err != nil {
			t.Fatal(err)
		}
		refused(t, st, ta1, "logged out")
		if err := end(alice, a1.ID, "logout"); err != nil {
			t.Errorf("ending an ended session again: %v", err)
		}
		if ev := eventsFor(t, d, "session.end", "session:"+a1.ID); len(ev) != 1 ||
			ev[0].Actor != "someone" || ev[0].Details["reason"] != "logout" || ev[0].Details["account"] != alice {
			t.Errorf("session.end events %+v", ev)
		}

		// Sign out everywhere else: a3 is the current session.
		var n int
		transact(t, d, func(tx *db.Tx) error {
			var err error
			n, err = st.EndAll(ctx, tx, alice, a3.ID, "password.reset")
			return err
		})
		if n != 1 {
			t.Errorf("EndAll ended %d sessions, want 1 (a2)", n)
		}
		refused(t, st, ta2, "ended by EndAll")
		mustAuth(t, st, ta3)
		mustAuth(t, st, tb1)
		if r := endState(t, d, a2.ID); r != "password.reset" {
			t.Errorf("a2 end reason %q", r)
		}
		if ev := eventsFor(t, d, "session.end", "session:"+a2.ID); len(ev) != 1 || ev[0].Details["reason"] != "password.reset" {
			t.Errorf("session.end events for a2 %+v", ev)
		}

		// Everything, e.g. when the account is disabled.
		transact(t, d, func(tx *db.Tx) error {
			var err error
			n, err = st.EndAll(ctx, tx, alice, "", "account_disabled")
			return err
		})
		if n != 1 {
			t.Errorf("EndAll ended %d sessions, want 1 (a3)", n)
		}
		refused(t, st, ta3, "ended by EndAll without exception")
		mustAuth(t, st, tb1)
		if r := endState(t, d, b1.ID); r != "" {
			t.Errorf("Bob's session ended: %q", r)
		}
		transact(t, d, func(tx *db.Tx) error {
			var err error
			n, err = st.EndAll(ctx, tx, alice, "", "account_disabled")
			return err
		})
		if n != 0 {
			t.Errorf("EndAll with nothing left ended %d", n)
		}
	})
}

// TestList covers CP-5.1: the account's own live sessions, newest first,
// with IP address and user agent decrypted; ended, stale and other
// accounts' sessions are not listed.
func TestList(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st := newStore(t, d)
		alice := newAccount(t, d, "customer")
		bob := newAccount(t, d, "customer")
		_, a1 := create(t, st, d, start(alice))
		c.Advance(time.Minute)
		phone := start(alice)
		phone.IP, phone.UserAgent = ipUS6, uaIPhone
		tPhone, a2 := create(t, st, d, phone)
		c.Advance(time.Minute)
		_, a3 := create(t, st, d, start(alice))
		transact(t, d, func(tx *db.Tx) error { return st.End(ctx, tx, alice, a3.ID, "logout") })
		create(t, st, d, start(bob))

		list, err := st.List(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != a2.ID || list[1].ID != a1.ID {
			t.Fatalf("List = %+v, want a2 then a1", list)
		}
		p := list[0]
		if p.IP != ipUS6 || p.UserAgent != uaIPhone || p.Device != "Safari on iPhone" || p.Country != "US" ||
			p.AccountID != alice || !p.CreatedAt.Equal(a2.CreatedAt) || !p.LastSeenAt.Equal(a2.LastSeenAt) {
			t.Errorf("phone session %+v", p)
		}
		if f := list[1]; f.IP != ipGB || f.UserAgent != uaFirefox || f.Device != "Firefox 140 on Linux" || f.Country != "GB" {
			t.Errorf("desktop session %+v", f)
		}

		// Stale sessions drop out before they are swept: at +30m30s a1
		// has been idle for 30m30s, a2 for 29m30s.
		c.Advance(28*time.Minute + 30*time.Second)
		mustAuth(t, st, tPhone)
		list, err = st.List(ctx, alice)
		if err != nil || len(list) != 1 || list[0].ID != a2.ID {
			t.Errorf("List after a1 went idle = %+v, %v", list, err)
		}
		if list, err := st.List(ctx, "nosuchaccount"); err != nil || len(list) != 0 {
			t.Errorf("List of an unknown account = %+v, %v", list, err)
		}
	})
}

// TestContextEncryptedAtRest covers CP-5.1: neither the IP address nor the
// user agent is in the database file in clear, and no token secret is
// stored at all, only its SHA-256.
func TestContextEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "portico.db")
	d, err := db.Open(ctx, db.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st := newStore(t, d)
	acct := newAccount(t, d, "customer")
	const ip, ua = "81.2.69.199", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 MarkerAgent/7"
	s := start(acct)
	s.IP, s.UserAgent = ip, ua
	token, sess := create(t, st, d, s)
	_, secret, _ := strings.Cut(token, ".")

	var hash []byte
	if err := d.QueryRowContext(ctx, `SELECT secret_hash FROM sessions WHERE id = $1`, sess.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(secret)); !bytes.Equal(hash, want[:]) {
		t.Error("secret_hash is not the SHA-256 of the secret")
	}
	if list, err := st.List(ctx, acct); err != nil || len(list) != 1 || list[0].IP != ip || list[0].UserAgent != ua {
		t.Fatalf("List = %+v, %v", list, err)
	}

	// Everything on disk: the file, its WAL and shared memory.
	files, _ := filepath.Glob(path + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for what, needle := range map[string]string{"IP address": ip, "user agent": "MarkerAgent", "token secret": secret, "token secret (upper case)": strings.ToUpper(secret)} {
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s holds the %s in clear", filepath.Base(f), what)
			}
		}
	}
	// The audit trail has neither.
	for _, e := range events(t, d) {
		if strings.Contains(e.raw, ip) || strings.Contains(e.raw, "MarkerAgent") || strings.Contains(e.raw, secret) {
			t.Errorf("audit event %s holds personal data or the secret: %s", e.Action, e.raw)
		}
	}
}

// TestAuditTrail covers CP-5.3: each change of a session's state writes
// its event in the same transaction, with opaque targets and no personal
// data or secret in the details.
func TestAuditTrail(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		ctx := audit.WithRequest(context.Background(), audit.Request{IP: ipGB, UserAgent: uaFirefox, RequestID: "req-1"})
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		var token string
		var sess session.Session
		transact(t, d, func(tx *db.Tx) error {
			var err error
			token, sess, err = st.Create(ctx, tx, start(acct))
			return err
		})
		_, secret, _ := strings.Cut(token, ".")
		ev := eventsFor(t, d, "session.create", "session:"+sess.ID)
		if len(ev) != 1 {
			t.Fatalf("session.create events %+v", ev)
		}
		want := map[string]any{"account": acct, "role": "customer", "aal": float64(1), "methods": "password", "device": "Firefox 140 on Linux", "country": "GB"}
		if len(ev[0].Details) != len(want) {
			t.Errorf("details %v, want %v", ev[0].Details, want)
		}
		for k, v := range want {
			if ev[0].Details[k] != v {
				t.Errorf("details[%s] = %v, want %v", k, ev[0].Details[k], v)
			}
		}
		if ev[0].Actor != "account:"+acct {
			t.Errorf("actor %q, want the account", ev[0].Actor)
		}

		// A failed transaction leaves neither the session nor its event.
		before := len(events(t, d))
		_ = d.Transact(ctx, func(tx *db.Tx) error {
			if _, _, err := st.Create(ctx, tx, start(acct)); err != nil {
				return err
			}
			return apperr.New(apperr.Conflict, "the caller changed its mind")
		})
		if got := len(events(t, d)); got != before {
			t.Errorf("a rolled-back sign-in left %d events", got-before)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d sessions after a rolled-back sign-in (%v)", n, err)
		}

		transact(t, d, func(tx *db.Tx) error { return st.Reauthenticated(ctx, tx, sess.ID) })
		transact(t, d, func(tx *db.Tx) error { return st.End(ctx, tx, acct, sess.ID, "logout") })
		var actions []string
		for _, e := range events(t, d) {
			actions = append(actions, e.Action)
			for k := range e.Details {
				if k == "ip" || k == "user_agent" {
					t.Errorf("%s details name %s", e.Action, k)
				}
			}
			if strings.Contains(e.raw, ipGB) || strings.Contains(e.raw, "Gecko") || strings.Contains(e.raw, secret) {
				t.Errorf("%s details hold personal data or the secret: %s", e.Action, e.raw)
			}
			if !strings.HasPrefix(e.Target, "session:") {
				t.Errorf("%s target %q", e.Action, e.Target)
			}
		}
		if !slices.Equal(actions, []string{"session.create", "session.reauth", "session.end"}) {
			t.Errorf("actions %v", actions)
		}
		if res, err := audit.New(d).Verify(ctx, audit.VerifyOptions{}); err != nil || !res.OK {
			t.Errorf("audit chain: %+v, %v", res, err)
		}
	})
}

// TestSweepAndPurge covers CP-6.3 and CP-5.2: sessions nobody presents
// again are still ended at their deadlines (audited), and ended sessions
// are deleted, with their encrypted context, after the retention cut-off.
func TestSweepAndPurge(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		p := policy.Session{
			IdleTimeout:     policy.Duration{Duration: 30 * time.Minute},
			AbsoluteTimeout: policy.Duration{Duration: time.Hour},
			StepUpWindow:    policy.Duration{Duration: 5 * time.Minute},
		}
		st := newStore(t, d, p)
		acct := newAccount(t, d, "customer")
		_, s1 := create(t, st, d, start(acct))
		t2, s2 := create(t, st, d, start(acct))

		c.Advance(20 * time.Minute)
		mustAuth(t, st, t2)
		c.Advance(15 * time.Minute) // s1 idle for 35m, s2 for 15m
		if n, err := st.Sweep(ctx); err != nil || n != 1 {
			t.Errorf("first sweep ended %d (%v), want 1", n, err)
		}
		if r1, r2 := endState(t, d, s1.ID), endState(t, d, s2.ID); r1 != "idle" || r2 != "" {
			t.Errorf("after the first sweep: %q, %q", r1, r2)
		}
		mustAuth(t, st, t2)
		c.Advance(20 * time.Minute)
		mustAuth(t, st, t2)
		c.Advance(5 * time.Minute) // s2 reaches its one-hour deadline
		if n, err := st.Sweep(ctx); err != nil || n != 1 {
			t.Errorf("second sweep ended %d (%v), want 1", n, err)
		}
		if r := endState(t, d, s2.ID); r != "expired" {
			t.Errorf("s2 end reason %q", r)
		}
		if n, err := st.Sweep(ctx); err != nil || n != 0 {
			t.Errorf("third sweep ended %d (%v)", n, err)
		}
		for _, id := range []string{s1.ID, s2.ID} {
			if ev := eventsFor(t, d, "session.expire", "session:"+id); len(ev) != 1 {
				t.Errorf("session.expire events for %s: %+v", id, ev)
			}
		}

		// s1 ended 25 minutes ago, s2 just now.
		if n, err := st.Purge(ctx, c.Now().Add(-time.Minute)); err != nil || n != 1 {
			t.Errorf("purge ended %d (%v), want 1", n, err)
		}
		if n, err := st.Purge(ctx, c.Now().Add(time.Second)); err != nil || n != 1 {
			t.Errorf("purge ended %d (%v), want 1", n, err)
		}
		var left int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&left); err != nil || left != 0 {
			t.Errorf("%d sessions left (%v)", left, err)
		}
		if ev := eventsFor(t, d, "session.purge", "table:sessions"); len(ev) != 2 {
			t.Errorf("session.purge events %+v", ev)
		}
	})
}

// TestAccountDeletionRemovesSessions: sessions belong to their account
// and go with it (ON DELETE CASCADE).
func TestAccountDeletionRemovesSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		token, _ := create(t, st, d, start(acct))
		transact(t, d, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, acct)
			return err
		})
		refused(t, st, token, "session of a deleted account")
	})
}

// TestCredentialsEpoch covers CP-6.3: a session issued under an older
// credentials epoch than its account's is refused (and ended, audited),
// whether it was live when the epoch moved or created after by a request
// that read the old epoch; rotation carries the old epoch along; Keep
// moves the one session that asked onto the new epoch.
func TestCredentialsEpoch(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		live, _ := create(t, st, d, start(acct))
		kept, keptSess := create(t, st, d, start(acct))
		_, pendingSess := create(t, st, d, start(acct))
		mustAuth(t, st, live)

		// The account's epoch moves (a reset on another node), with no
		// session row touched: the epoch alone must refuse them.
		transact(t, d, func(tx *db.Tx) error {
			_, err := tx.ExecContext(context.Background(), `UPDATE accounts SET credentials_epoch = 1 WHERE id = $1`, acct)
			if err != nil {
				return err
			}
			return st.Keep(context.Background(), tx, acct, keptSess.ID, 1)
		})
		refused(t, st, live, "a session from before the epoch")
		if got := endState(t, d, strings.SplitN(live, ".", 2)[0]); got != session.ReasonSuperseded {
			t.Errorf("the superseded session ended as %q", got)
		}
		if got := mustAuth(t, st, kept); got.Epoch != 1 {
			t.Errorf("the kept session has epoch %d", got.Epoch)
		}
		// A sign-in that read the old epoch with the password it checked.
		s := start(acct)
		s.Epoch = 0
		raced, _ := create(t, st, d, s)
		refused(t, st, raced, "a session created under the old epoch")
		// Rotation (the second factor) does not lift the pending session
		// onto the new epoch.
		var rotated string
		transact(t, d, func(tx *db.Tx) error {
			var err error
			rotated, _, err = st.Rotate(context.Background(), tx, pendingSess, session.AAL2, []string{"password", "totp"})
			return err
		})
		refused(t, st, rotated, "a rotation of a session from before the epoch")
		fresh := start(acct)
		fresh.Epoch = 1
		now, _ := create(t, st, d, fresh)
		mustAuth(t, st, now)
	})
}

// TestSameUserAgent: a session knows the browser it was opened in; the
// same browser matches, another does not, and only the first 512 bytes
// (cut on a character boundary) are kept (CP-6.3).
func TestSameUserAgent(t *testing.T) {
	c := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		st := newStore(t, d)
		acct := newAccount(t, d, "customer")
		token, _ := create(t, st, d, start(acct))
		s := mustAuth(t, st, token)
		if !s.SameUserAgent(uaFirefox) {
			t.Error("the session's own browser does not match")
		}
		if s.SameUserAgent(uaIPhone) || s.SameUserAgent("") {
			t.Error("another browser matches")
		}
		long := start(acct)
		long.UserAgent = "a" + strings.Repeat("é", 300) // byte 512 is inside a character
		token, _ = create(t, st, d, long)
		s = mustAuth(t, st, token)
		if !s.SameUserAgent(long.UserAgent) || !s.SameUserAgent(long.UserAgent[:511]+"ü, then anything") {
			t.Error("a long user agent is not compared on its first 511 bytes")
		}
		if s.SameUserAgent(long.UserAgent[:509]) || s.SameUserAgent("b"+long.UserAgent[1:]) {
			t.Error("a shorter or another long user agent matches")
		}
		if !(session.Session{}).SameUserAgent(uaIPhone) {
			t.Error("a session without a recorded browser refuses")
		}
	})
}
