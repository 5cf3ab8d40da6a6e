package privacy_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// seedSignIns writes n sign-in events for an account, encrypted as the
// identity service writes them, in large transactions.
func seedSignIns(tb testing.TB, e *env, accountID string, n int) {
	tb.Helper()
	for done := 0; done < n; {
		err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
			for i := 0; i < 2000 && done < n; i, done = i+1, done+1 {
				id := strings.ToLower(rand.Text())
				ip, err := e.keys.Encrypt(e.ctx, tx, accountID, crypto.Field{Table: "sign_in_events", Column: "ip_enc", Row: id}, []byte("203.0.113.9"))
				if err != nil {
					return err
				}
				ua, err := e.keys.Encrypt(e.ctx, tx, accountID, crypto.Field{Table: "sign_in_events", Column: "ua_enc", Row: id}, []byte("Mozilla/5.0 bench"))
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(e.ctx,
					`INSERT INTO sign_in_events (id, account_id, at, outcome, reason, method, ip_enc, ua_enc, device, country)
					 VALUES ($1, $2, $3, 'success', 'ok', 'password', $4, $5, 'Firefox on Linux', 'GB')`,
					id, accountID, tx.Now(), ip, ua); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkExportLargeAccount builds the archive of a customer with 1,000
// tickets and 10,000 sign-in events on SQLite. Issue 5's target: under 2 s.
func BenchmarkExportLargeAccount(b *testing.B) {
	e := newEnv(b, dbtest.SQLite(b, dbtest.Options{}), dbtest.NewClock(time.Now()))
	c := e.customer(b, "bench.export@example.com")
	for i := range 1000 {
		if _, err := e.desk.Open(context.Background(), c, fmt.Sprintf("Ticket %d about the invoice", i), "The body of the ticket, a few sentences long, as customers write them.", nil); err != nil {
			b.Fatal(err)
		}
	}
	seedSignIns(b, e, c.AccountID, 10_000)
	b.ResetTimer()
	for b.Loop() {
		z, err := e.svc.Archive(context.Background(), c.AccountID)
		if err != nil || len(z) == 0 {
			b.Fatal(err)
		}
	}
}
