package notify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/notify"
)

// clock is a test clock that only moves when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

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

// newKeyset creates a master keyset file and returns its path.
func newKeyset(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), crypto.KeysetFileName)
	if err := crypto.CreateMasterKeyset(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// node is one Portico process's view: its services over a database.
type node struct {
	db    *db.DB
	keys  *crypto.Keyring
	audit *audit.Log
	svc   *notify.Service
	logs  *syncBuffer // everything the service logged
}

// newNode opens the services over d with a keyset (a fresh one when path
// is "").
func newNode(t testing.TB, d *db.DB, keysetPath string, opts notify.Options) *node {
	t.Helper()
	if keysetPath == "" {
		keysetPath = newKeyset(t)
	}
	keys, err := crypto.Open(d, keysetPath)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{db: d, keys: keys, audit: audit.New(d), logs: &syncBuffer{}}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n.svc, err = notify.New(d, keys, n.audit, opts)
	if err != nil {
		t.Fatalf("notify.New: %v", err)
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newAccount inserts an account row (the identity package's business; the
// outbox only needs the row to exist) and returns its ID.
func newAccount(t testing.TB, d *db.DB) string {
	t.Helper()
	id := strings.ToLower(rand.Text())
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(),
			`INSERT INTO accounts (id, email_lookup, email_enc, role, status, created_at, updated_at)
			 VALUES ($1, $2, $3, 'customer', 'active', $4, $4)`,
			id, []byte(rand.Text()), []byte(rand.Text()), tx.Now())
		return err
	})
	if err != nil {
		t.Fatalf("insert account: %v", err)
	}
	return id
}

// inTx runs fn in a transaction and fails the test on error.
func inTx(t testing.TB, d *db.DB, fn func(ctx context.Context, tx *db.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := d.Transact(ctx, func(tx *db.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func queue(t testing.TB, n *node, m notify.Email) {
	t.Helper()
	inTx(t, n.db, func(ctx context.Context, tx *db.Tx) error { return n.svc.QueueEmail(ctx, tx, m) })
}

// deliver runs one pass and checks its counts.
func deliver(t testing.TB, n *node, wantSent, wantFailed int) {
	t.Helper()
	sent, failed, err := n.svc.DeliverDue(context.Background())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	if sent != wantSent || failed != wantFailed {
		t.Fatalf("DeliverDue = sent %d, failed %d; want %d, %d\nlog:\n%s", sent, failed, wantSent, wantFailed, n.logs)
	}
}

// event is an audit event as stored.
type event struct {
	Actor, Action, Target, Outcome string
	Details                        map[string]any
}

// events returns the audit events whose action starts with prefix, in order.
func events(t testing.TB, d *db.DB, prefix string) []event {
	t.Helper()
	rows, err := d.QueryContext(context.Background(),
		`SELECT actor, action, target, outcome, details FROM audit_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var e event
		var details string
		if err := rows.Scan(&e.Actor, &e.Action, &e.Target, &e.Outcome, &details); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.Action, prefix) {
			continue
		}
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// undelivered returns the admin listing and fails on error.
func undelivered(t testing.TB, n *node) []notify.OutboxItem {
	t.Helper()
	items, err := n.svc.Undelivered(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func email(account, to, subject, text string) notify.Email {
	return notify.Email{AccountID: account, To: to, Kind: "security.test", Subject: subject, Text: text}
}
