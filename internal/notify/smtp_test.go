package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/notify"
)

// TestSMTPURL checks the --smtp-url setting: good values are accepted, bad
// ones refused with an error that names the setting and never shows the
// password, and plain text to another host draws a warning.
func TestSMTPURL(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	keys, err := crypto.Open(d, newKeyset(t))
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(d)
	const pw = "hunter2secret"

	for _, good := range []string{
		"smtps://mailer:" + pw + "@mail.example.com:465?from=portico@example.com",
		"smtps://mail.example.com?from=portico@example.com",
		"smtp://mailer:" + pw + "@mail.example.com:587?from=portico@example.com",
		"smtp://mail.example.com?from=" + url.QueryEscape("Portico <portico@example.com>"),
		"smtp://127.0.0.1:2525?tls=none&from=portico@example.test",
		"smtp://mailer:" + pw + "@localhost:25?tls=none&from=portico@example.test",
		"smtp://[::1]:25/?tls=none&from=portico@example.test",
	} {
		if _, err := notify.New(d, keys, log, notify.Options{SMTPURL: good}); err != nil {
			t.Errorf("%s refused: %v", strings.ReplaceAll(good, pw, "xxx"), err)
		}
	}

	for _, tc := range []struct{ name, url string }{
		{"other scheme", "ftp://mailer:" + pw + "@mail.example.com?from=a@example.com"},
		{"no scheme", "mailer:" + pw + "@mail.example.com"},
		{"no host", "smtps://mailer:" + pw + "@:465?from=a@example.com"},
		{"bad port", "smtps://mailer:" + pw + "@mail.example.com:99999?from=a@example.com"},
		{"port not a number", "smtps://mailer:" + pw + "@mail.example.com:abc?from=a@example.com"},
		{"no from", "smtps://mailer:" + pw + "@mail.example.com:465"},
		{"bad from", "smtps://mailer:" + pw + "@mail.example.com:465?from=not-an-address"},
		{"from without domain", "smtps://mailer:" + pw + "@mail.example.com:465?from=" + url.QueryEscape("a@")},
		{"from twice", "smtps://mailer:" + pw + "@mail.example.com:465?from=a@example.com&from=b@example.com"},
		{"tls=none with smtps", "smtps://mailer:" + pw + "@mail.example.com:465?tls=none&from=a@example.com"},
		{"unknown tls", "smtp://mailer:" + pw + "@mail.example.com?tls=maybe&from=a@example.com"},
		{"unknown parameter", "smtp://mailer:" + pw + "@mail.example.com?from=a@example.com&insecure=1"},
		{"password in plain text to another host", "smtp://mailer:" + pw + "@mail.example.com:25?tls=none&from=a@example.com"},
		{"user without password", "smtps://mailer@mail.example.com?from=a@example.com"},
		{"password without user", "smtps://:" + pw + "@mail.example.com?from=a@example.com"},
		{"path", "smtps://mailer:" + pw + "@mail.example.com/inbox?from=a@example.com"},
		{"unparseable", "smtps://mailer:" + pw + "@mail.example.com:465\x7f?from=a@example.com"},
		{"bad escape in password", "smtps://mailer:" + pw + "%zz@mail.example.com?from=a@example.com"},
		{"bad query", "smtps://mailer:" + pw + "@mail.example.com?from=%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.New(d, keys, log, notify.Options{SMTPURL: tc.url})
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "--smtp-url") {
				t.Errorf("error does not name --smtp-url: %s", msg)
			}
			if strings.Contains(msg, pw) {
				t.Errorf("error shows the password: %s", msg)
			}
		})
	}

	t.Run("warns about plain text to another host", func(t *testing.T) {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		if _, err := notify.New(d, keys, log, notify.Options{SMTPURL: "smtp://relay.internal:25?tls=none&from=a@example.com", Logger: logger}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "tls=none") {
			t.Errorf("no warning: %q", buf.String())
		}
		buf.Reset()
		if _, err := notify.New(d, keys, log, notify.Options{SMTPURL: "smtp://127.0.0.1:25?tls=none&from=a@example.com", Logger: logger}); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != 0 {
			t.Errorf("warning for loopback: %q", buf.String())
		}
	})
}

// TestSTARTTLSRequired covers CP-5.1 (in transit): smtp:// without
// tls=none never falls back to plain text when the server offers no
// STARTTLS; the mail waits, with the reason recorded.
func TestSTARTTLSRequired(t *testing.T) {
	clk := newClock()
	d := dbtest.SQLite(t, dbtest.Options{Now: clk.Now})
	srv := mailtest.Start(t)
	n := newNode(t, d, "", notify.Options{SMTPURL: "smtp://" + srv.Addr() + "?from=portico@example.test"})
	acct := newAccount(t, d)
	queue(t, n, email(acct, "heidi@example.test", "S", "T"))
	deliver(t, n, 0, 1)
	if srv.Attempts() != 0 {
		t.Error("the message went out over plain text")
	}
	u := undelivered(t, n)
	if len(u) != 1 || u[0].Status != notify.StatusPending || !strings.Contains(u[0].LastError, "STARTTLS") {
		t.Errorf("undelivered = %+v", u)
	}
}

// TestSMTPAuth checks that credentials from --smtp-url are used, and that
// a wrong password leaves the mail pending with a reason that does not
// show it.
func TestSMTPAuth(t *testing.T) {
	clk := newClock()
	d := dbtest.SQLite(t, dbtest.Options{Now: clk.Now})
	acct := newAccount(t, d)
	keyset := newKeyset(t)

	srv := mailtest.Start(t, mailtest.RequireAuth("mailer", "s3cret-Pw"))
	wrong := strings.Replace(srv.URL(), "s3cret-Pw", "wrong-Pw-123", 1)
	n := newNode(t, d, keyset, notify.Options{SMTPURL: wrong})
	queue(t, n, email(acct, "ivan@example.test", "S", "T"))
	deliver(t, n, 0, 1)
	u := undelivered(t, n)
	if len(u) != 1 || !strings.Contains(u[0].LastError, "authentication failed") || strings.Contains(u[0].LastError, "wrong-Pw") {
		t.Errorf("undelivered = %+v", u)
	}
	if strings.Contains(n.logs.String(), "wrong-Pw") {
		t.Errorf("log shows the password:\n%s", n.logs)
	}

	clk.Add(time.Hour)
	n = newNode(t, d, keyset, notify.Options{SMTPURL: srv.URL()})
	deliver(t, n, 1, 0)
	if m := srv.WaitFor(t, nil, 5*time.Second); m.To[0] != "ivan@example.test" {
		t.Errorf("delivered to %q", m.To)
	}
}

// TestOutboxEncryptedAtRest covers CP-5.1: neither the recipient's address
// nor the subject, the mail's text or a notice's body appears in the
// SQLite file, while the generic title (stored in clear by design) does,
// which shows that the check reads the right bytes.
func TestOutboxEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portico.db")
	d, err := db.Open(ctx, db.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	n := newNode(t, d, "", notify.Options{})
	acct := newAccount(t, d)
	const (
		to      = "judy.recipient.marker@example.test"
		title   = "Generic title marker"
		body    = "Body marker: signed in from 203.0.113.199 in Reykjavik"
		subject = "Subject marker 7f3a"
		text    = "Mail text marker 9c2e"
	)
	inTx(t, d, func(ctx context.Context, tx *db.Tx) error {
		if _, err := n.svc.Notify(ctx, tx, notify.Notice{AccountID: acct, Kind: "security.test", Title: title, Body: body}, to); err != nil {
			return err
		}
		return n.svc.QueueEmail(ctx, tx, email(acct, to, subject, text))
	})
	if err := d.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	var raw []byte
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	if !bytes.Contains(raw, []byte(title)) {
		t.Fatal("the title is not in the file: the check is not reading the database")
	}
	for _, secret := range []string{to, "judy.recipient", body, "203.0.113.199", subject, text} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%q is in the database file in clear", secret)
		}
	}
}

// TestConcurrentDeliverySendsOnce covers the lease: several passes on
// several nodes (separate connection pools on one database) send each
// message exactly once. On PostgreSQL the claim uses FOR UPDATE SKIP
// LOCKED; on SQLite the single writer serialises claims.
func TestConcurrentDeliverySendsOnce(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			var opts db.Options
			if dialect == "postgres" {
				opts.URL = dbtest.PostgresURL(t)
			} else {
				opts.Path = filepath.Join(t.TempDir(), "portico.db")
			}
			var handles []*db.DB
			for range 2 {
				d, err := db.Open(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				handles = append(handles, d)
			}
			if _, err := handles[0].Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			srv := mailtest.Start(t)
			keyset := newKeyset(t)
			var nodes []*node
			for i := range 4 {
				nodes = append(nodes, newNode(t, handles[i%2], keyset, notify.Options{SMTPURL: srv.URL(), BatchSize: 3}))
			}
			const total = 30
			acct := newAccount(t, handles[0])
			for i := range total {
				queue(t, nodes[0], email(acct, fmt.Sprintf("user%d@example.test", i), fmt.Sprintf("Notice %d", i), "Text"))
			}

			var wg sync.WaitGroup
			var mu sync.Mutex
			sent := 0
			for _, n := range nodes {
				wg.Go(func() {
					s, f, err := n.svc.DeliverDue(ctx)
					if err != nil || f != 0 {
						t.Errorf("DeliverDue: sent %d, failed %d, %v", s, f, err)
					}
					mu.Lock()
					sent += s
					mu.Unlock()
				})
			}
			wg.Wait()

			if sent != total {
				t.Errorf("passes report %d sent, want %d", sent, total)
			}
			seen := map[string]int{}
			for _, m := range srv.Messages() {
				seen[m.Subject]++
			}
			for i := range total {
				if c := seen[fmt.Sprintf("Notice %d", i)]; c != 1 {
					t.Errorf("Notice %d delivered %d times", i, c)
				}
			}
			if ev := events(t, handles[0], "notice.email.sent"); len(ev) != total {
				t.Errorf("%d sent events, want %d", len(ev), total)
			}
			if u := undelivered(t, nodes[0]); len(u) != 0 {
				t.Errorf("undelivered: %+v", u)
			}
		})
	}
}
