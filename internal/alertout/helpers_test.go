package alertout

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// testSecret is a webhook secret of the minimum length.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// t0 is where the tests' database clocks start.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// eachWithClock runs fn on each dialect with a database whose clock is c.
func eachWithClock(t *testing.T, fn func(t *testing.T, d *db.DB, c *dbtest.Clock)) {
	t.Helper()
	c := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: c.Now}, func(t *testing.T, d *db.DB) {
		c.Set(t0)
		fn(t, d, c)
	})
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newTestService makes a Service over d that logs into the returned
// buffer.
func newTestService(t testing.TB, d *db.DB, cfg Config) (*Service, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return New(d, cfg), logs
}

// alert is a payload as internal/detect would build one.
type alert struct {
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Count    int    `json:"count"`
}

// queue queues payload in a transaction of its own.
func queue(t testing.TB, s *Service, payload any) {
	t.Helper()
	if err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
		return s.Queue(context.Background(), tx, payload)
	}); err != nil {
		t.Fatalf("Queue: %v", err)
	}
}

// row is an alert_outbox row as a test sees it.
type row struct {
	id, channel, payload, status, lastError string
	attempts                                int
	claimedBy                               sql.NullString
}

// rows lists the alert_outbox, oldest first.
func rows(t testing.TB, d *db.DB) []row {
	t.Helper()
	rs, err := d.QueryContext(context.Background(),
		`SELECT id, channel, payload, status, last_error, attempts, claimed_by FROM alert_outbox ORDER BY created_at, channel`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.channel, &r.payload, &r.status, &r.lastError, &r.attempts, &r.claimedBy); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// onlyRow is the single alert_outbox row.
func onlyRow(t testing.TB, d *db.DB) row {
	t.Helper()
	rs := rows(t, d)
	if len(rs) != 1 {
		t.Fatalf("alert_outbox has %d rows, want 1", len(rs))
	}
	return rs[0]
}

// deliver runs one pass and checks its counts.
func deliver(t testing.TB, s *Service, wantSent, wantFailed int) {
	t.Helper()
	sent, failed, err := s.DeliverDue(context.Background())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	if sent != wantSent || failed != wantFailed {
		t.Fatalf("DeliverDue = %d sent, %d failed; want %d, %d", sent, failed, wantSent, wantFailed)
	}
}

var errRollback = errors.New("roll back")
