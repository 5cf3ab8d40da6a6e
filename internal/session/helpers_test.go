package session_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// Real user agents and addresses used across the tests.
const (
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	ipGB      = "81.2.69.142"
	ipUS6     = "2001:4860:4860::8888"
)

// clock is the injected time: tests move it, never sleep.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock starts at a time with a fraction of a second, so that stored
// and compared times are not accidentally whole seconds.
func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 123456000, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// profile is the customer-portal profile's session policy: idle 30m,
// absolute 12h, step-up 5m.
func profile(t testing.TB) policy.Session {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	return p.Session
}

// newStore returns a store over d with a fresh keyring and the profile's
// session policy (or p, when given).
func newStore(t testing.TB, d *db.DB, p ...policy.Session) *session.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}
	kr, err := crypto.Open(d, path)
	if err != nil {
		t.Fatal(err)
	}
	sp := profile(t)
	if len(p) > 0 {
		sp = p[0]
	}
	return session.NewStore(d, kr, audit.New(d), sp)
}

// newAccount inserts an account row as identity would, and returns its ID.
// The row is written directly so that these tests do not depend on the
// sign-up flow.
func newAccount(t testing.TB, d *db.DB, role string) string {
	t.Helper()
	id := strings.ToLower(rand.Text())
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(),
			`INSERT INTO accounts (id, email_lookup, email_enc, role, status, password_hash, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, 'active', '', $5, $5)`,
			id, []byte("lookup-"+id), []byte("enc"), role, tx.Now())
		return err
	})
	if err != nil {
		t.Fatalf("insert account: %v", err)
	}
	return id
}

// start is a customer's password sign-in from Firefox in Great Britain.
func start(account string) session.Start {
	return session.Start{AccountID: account, Role: "customer", AAL: session.AAL1,
		Methods: []string{"password"}, IP: ipGB, UserAgent: uaFirefox}
}

// create starts a session in a transaction of its own.
func create(t testing.TB, st *session.Store, d *db.DB, s session.Start) (string, session.Session) {
	t.Helper()
	var (
		token string
		sess  session.Session
	)
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		var err error
		token, sess, err = st.Create(context.Background(), tx, s)
		return err
	})
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	return token, sess
}

// transact runs fn in a transaction and fails the test on error.
func transact(t testing.TB, d *db.DB, fn func(tx *db.Tx) error) {
	t.Helper()
	if err := d.Transact(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// mustAuth authenticates token and fails the test if it is refused.
func mustAuth(t testing.TB, st *session.Store, token string) session.Session {
	t.Helper()
	s, err := st.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return s
}

// refused checks that token is refused with exactly ErrNoSession.
func refused(t testing.TB, st *session.Store, token, why string) {
	t.Helper()
	s, err := st.Authenticate(context.Background(), token)
	if err != session.ErrNoSession {
		t.Errorf("%s: err = %v, want ErrNoSession", why, err)
	}
	if s.ID != "" || s.AccountID != "" {
		t.Errorf("%s: a refused token returned session %+v", why, s)
	}
}

// event is an audit event as stored.
type event struct {
	Actor, Action, Target string
	Details               map[string]any
	raw                   string
}

// events returns the audit trail, oldest first.
func events(t testing.TB, d *db.DB) []event {
	t.Helper()
	rows, err := d.QueryContext(context.Background(), `SELECT actor, action, target, details FROM audit_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.Actor, &e.Action, &e.Target, &e.raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(e.raw), &e.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventsFor returns the events with this action and target.
func eventsFor(t testing.TB, d *db.DB, action, target string) []event {
	t.Helper()
	var out []event
	for _, e := range events(t, d) {
		if e.Action == action && e.Target == target {
			out = append(out, e)
		}
	}
	return out
}

// endState reads a session's end columns ("" when it has not ended).
func endState(t testing.TB, d *db.DB, id string) string {
	t.Helper()
	var reason *string
	if err := d.QueryRowContext(context.Background(), `SELECT end_reason FROM sessions WHERE id = $1`, id).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if reason == nil {
		return ""
	}
	return *reason
}

// lastSeen reads a session's stored last_seen_at.
func lastSeen(t testing.TB, d *db.DB, id string) time.Time {
	t.Helper()
	var ts time.Time
	if err := d.QueryRowContext(context.Background(), `SELECT last_seen_at FROM sessions WHERE id = $1`, id).Scan(&ts); err != nil {
		t.Fatal(err)
	}
	return ts.UTC()
}
