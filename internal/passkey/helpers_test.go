package passkey_test

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
	"github.com/portico/portico/internal/passkey"
)

// clock is a settable clock for the database, so that tests can let a
// challenge expire without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newService returns a passkey service for rpID and origin on d, with a
// keyring of its own.
func newService(t *testing.T, d *db.DB, rpID, origin string) *passkey.Service {
	t.Helper()
	return newServiceWith(t, d, newKeyring(t, d), rpID, origin)
}

// newServiceWith is newService with a given keyring: another node of the
// same deployment.
func newServiceWith(t *testing.T, d *db.DB, kr *crypto.Keyring, rpID, origin string) *passkey.Service {
	t.Helper()
	s, err := passkey.New(d, audit.New(d), passkey.Config{RPID: rpID, Origins: []string{origin}, Keys: kr})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newKeyring returns a keyring with a fresh master keyset.
func newKeyring(t *testing.T, d *db.DB) *crypto.Keyring {
	t.Helper()
	path := filepath.Join(t.TempDir(), crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}
	kr, err := crypto.Open(d, path)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// createAccount stores a bare account row: passkeys only need its ID.
func createAccount(t *testing.T, d *db.DB) string {
	t.Helper()
	id := strings.ToLower(rand.Text())
	lookup := make([]byte, 32)
	rand.Read(lookup)
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(),
			`INSERT INTO accounts (id, email_lookup, email_enc, role, status, password_hash, created_at, updated_at)
			 VALUES ($1, $2, $3, 'customer', 'active', '', $4, $4)`, id, lookup, []byte("x"), tx.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// event is an audit event as the tests look at it.
type event struct {
	Action, Target, Outcome string
	Details                 map[string]any
	raw                     string
}

// events returns the passkey.* audit events, oldest first.
func events(t *testing.T, d *db.DB) []event {
	t.Helper()
	rs, err := d.QueryContext(context.Background(),
		`SELECT action, target, outcome, details FROM audit_events WHERE action LIKE 'passkey.%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []event
	for rs.Next() {
		var e event
		if err := rs.Scan(&e.Action, &e.Target, &e.Outcome, &e.raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(e.raw), &e.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lastEvent returns the newest passkey.* audit event.
func lastEvent(t *testing.T, d *db.DB) event {
	t.Helper()
	ev := events(t, d)
	if len(ev) == 0 {
		t.Fatal("no passkey audit event")
	}
	return ev[len(ev)-1]
}

// transact runs fn in a transaction and fails the test if the transaction
// fails.
func transact(t *testing.T, d *db.DB, fn func(tx *db.Tx) error) {
	t.Helper()
	if err := d.Transact(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}
