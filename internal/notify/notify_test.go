package notify_test

import (
	"context"
	"net/mail"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/notify"
)

// The text of a realistic notice: specifics that are personal data, a
// long link that quoted-printable must break and join again, and
// non-ASCII letters.
const (
	noticeTitle = "New sign-in from a new device"
	noticeBody  = "Someone signed in to your account on 2 January 2030 at 03:04 UTC\n" +
		"from 203.0.113.77 in Zürich, Switzerland (Firefox on Linux).\n\n" +
		"If this wasn't you, reset your password now:\n" +
		"https://portal.example.test/account/reset?token=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8=&from=notice\n\n" +
		"— Portico security team"
)

// TestNotifyDeliversInboxAndEmail covers CP-9.1 and MTL-5.1.2: one
// security notice lands in the customer's inbox and, through the outbox,
// in their mailbox with the same text, as plain UTF-8 text with Date,
// Message-ID and the configured From; delivery is audited without personal
// data, and a second pass sends nothing again.
func TestNotifyDeliversInboxAndEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		n := newNode(t, d, "", notify.Options{SMTPURL: srv.URL()})
		acct := newAccount(t, d)
		const to = "alice.customer@example.test"

		var noticeID string
		inTx(t, d, func(ctx context.Context, tx *db.Tx) error {
			var err error
			noticeID, err = n.svc.Notify(ctx, tx, notify.Notice{
				AccountID: acct, Kind: "security.new-device", Title: noticeTitle, Body: noticeBody,
			}, to)
			return err
		})

		// In the portal at once, unread.
		items, err := n.svc.Inbox(ctx, acct, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].ID != noticeID || items[0].Title != noticeTitle || items[0].Body != noticeBody ||
			items[0].Kind != "security.new-device" || items[0].Read() {
			t.Fatalf("inbox = %+v", items)
		}
		if c, _ := n.svc.UnreadCount(ctx, acct); c != 1 {
			t.Errorf("unread count = %d, want 1", c)
		}

		// By email after one pass.
		deliver(t, n, 1, 0)
		m := srv.WaitFor(t, nil, 5*time.Second)
		if !reflect.DeepEqual(m.To, []string{to}) || m.From != mailtest.From {
			t.Errorf("envelope from %q to %q", m.From, m.To)
		}
		if m.Subject != noticeTitle {
			t.Errorf("subject = %q", m.Subject)
		}
		if got := strings.TrimRight(m.Text, "\n"); got != noticeBody {
			t.Errorf("text =\n%q\nwant\n%q", got, noticeBody)
		}
		if got := m.URL("https://portal.example.test/"); !strings.HasSuffix(got, "&from=notice") {
			t.Errorf("link in mail = %q", got)
		}
		ct := m.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "text/plain") || !strings.Contains(strings.ToLower(ct), "charset=utf-8") {
			t.Errorf("Content-Type = %q, want plain text in UTF-8", ct)
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("Date header: %v", err)
		}
		if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, "@example.test>") {
			t.Errorf("Message-ID = %q", id)
		}
		if from, err := mail.ParseAddress(m.Header.Get("From")); err != nil || from.Address != mailtest.From {
			t.Errorf("From header = %q", m.Header.Get("From"))
		}
		if h := m.Header.Get("Auto-Submitted"); h != "auto-generated" {
			t.Errorf("Auto-Submitted = %q", h)
		}
		if h := m.Header.Get("User-Agent") + m.Header.Get("X-Mailer"); h != "" {
			t.Errorf("mailer advertised: %q", h)
		}

		// Nothing is sent twice, nothing is left over.
		deliver(t, n, 0, 0)
		if got := len(srv.Messages()); got != 1 {
			t.Errorf("%d messages delivered, want 1", got)
		}
		if u := undelivered(t, n); len(u) != 0 {
			t.Errorf("undelivered = %+v", u)
		}

		// Audited, with IDs and kinds only.
		posts := events(t, d, "notice.post")
		if len(posts) != 1 || posts[0].Target != "notice:"+noticeID ||
			!reflect.DeepEqual(posts[0].Details, map[string]any{"kind": "security.new-device", "account": acct}) {
			t.Errorf("notice.post events = %+v", posts)
		}
		sent := events(t, d, "notice.email.")
		if len(sent) != 1 || sent[0].Action != "notice.email.sent" || sent[0].Outcome != "success" ||
			!strings.HasPrefix(sent[0].Target, "outbox:") || sent[0].Actor != "system" ||
			!reflect.DeepEqual(sent[0].Details, map[string]any{"kind": "security.new-device", "attempts": float64(1)}) {
			t.Errorf("notice.email events = %+v", sent)
		}
		if logs := n.logs.String(); strings.Contains(logs, to) || strings.Contains(logs, "203.0.113.77") {
			t.Errorf("the log holds the recipient or the text:\n%s", logs)
		}

		// Reading it clears the badge.
		if err := n.svc.MarkRead(ctx, acct, noticeID); err != nil {
			t.Fatal(err)
		}
		if err := n.svc.MarkRead(ctx, acct, noticeID); err != nil {
			t.Errorf("marking a read notice again: %v", err)
		}
		if c, _ := n.svc.UnreadCount(ctx, acct); c != 0 {
			t.Errorf("unread count after reading = %d", c)
		}
		if items, _ := n.svc.Inbox(ctx, acct, 0); len(items) != 1 || !items[0].Read() {
			t.Errorf("inbox after reading = %+v", items)
		}
	})
}

// TestInboxNewestFirst checks the order and the limit of the inbox, and
// that one account never sees another's notices.
func TestInboxNewestFirst(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, "", notify.Options{})
		a, b := newAccount(t, d), newAccount(t, d)
		for i, title := range []string{"first", "second", "third"} {
			inTx(t, d, func(ctx context.Context, tx *db.Tx) error {
				_, err := n.svc.Post(ctx, tx, notify.Notice{AccountID: a, Kind: "security.test", Title: title, Body: "body " + title})
				return err
			})
			clk.Add(time.Minute)
			if i == 0 {
				inTx(t, d, func(ctx context.Context, tx *db.Tx) error {
					_, err := n.svc.Post(ctx, tx, notify.Notice{AccountID: b, Kind: "security.test", Title: "b's", Body: "not for a"})
					return err
				})
			}
		}
		items, err := n.svc.Inbox(ctx, a, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 2 || items[0].Title != "third" || items[1].Title != "second" || items[0].Body != "body third" {
			t.Errorf("inbox = %+v", items)
		}
		if !items[0].CreatedAt.After(items[1].CreatedAt) {
			t.Errorf("times %v, %v not newest first", items[0].CreatedAt, items[1].CreatedAt)
		}
		all, _ := n.svc.Inbox(ctx, a, 0)
		for _, it := range all {
			if it.Title == "b's" {
				t.Error("account a sees account b's notice")
			}
		}
		if c, _ := n.svc.UnreadCount(ctx, a); c != 3 {
			t.Errorf("unread = %d, want 3", c)
		}
	})
}

// TestMarkReadOtherAccountNotFound covers object-level authorization
// (CP-4.2): marking another account's notice answers NotFound, the same as
// an unknown ID, and leaves that notice unread.
func TestMarkReadOtherAccountNotFound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, "", notify.Options{})
		alice, mallory := newAccount(t, d), newAccount(t, d)
		var aliceNotice string
		inTx(t, d, func(ctx context.Context, tx *db.Tx) error {
			var err error
			aliceNotice, err = n.svc.Post(ctx, tx, notify.Notice{AccountID: alice, Kind: "security.test", Title: "For Alice", Body: "Alice's details"})
			return err
		})
		for _, tc := range []struct{ name, account, notice string }{
			{"another account's notice", mallory, aliceNotice},
			{"unknown notice", alice, "doesnotexist"},
			{"empty notice ID", alice, ""},
			{"empty account", "", aliceNotice},
			{"SQL in the ID", mallory, aliceNotice + "' OR '1'='1"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := n.svc.MarkRead(ctx, tc.account, tc.notice)
				if apperr.CodeOf(err) != apperr.NotFound {
					t.Fatalf("MarkRead = %v, want NotFound", err)
				}
				if apperr.MessageOf(err) != "No such notice." {
					t.Errorf("message %q differs between cases, which lets IDs be probed", apperr.MessageOf(err))
				}
			})
		}
		if c, _ := n.svc.UnreadCount(ctx, alice); c != 1 {
			t.Errorf("Alice's notice was marked read by another account (unread = %d)", c)
		}
		if items, _ := n.svc.Inbox(ctx, mallory, 0); len(items) != 0 {
			t.Errorf("Mallory's inbox shows %d notices", len(items))
		}
	})
}

// TestNoSMTPKeepsMailPending covers MTL-1.1 (nothing lost): with no mail
// server configured, queued mail stays pending, DeliverDue and Run do
// nothing, and Undelivered lists it for administrators without the
// recipient or text; once a mail server is configured, it is delivered.
func TestNoSMTPKeepsMailPending(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		keyset := newKeyset(t)
		n := newNode(t, d, keyset, notify.Options{})
		if n.svc.MailConfigured() {
			t.Fatal("MailConfigured with no --smtp-url")
		}
		acct := newAccount(t, d)
		queue(t, n, email(acct, "bob@example.test", "Your password was changed", "Changed from 198.51.100.4."))
		deliver(t, n, 0, 0)

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.svc.Run(ctx); close(done) }()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return when its context ended")
		}

		u := undelivered(t, n)
		if len(u) != 1 {
			t.Fatalf("undelivered = %+v", u)
		}
		it := u[0]
		if it.AccountID != acct || it.Kind != "security.test" || it.Status != notify.StatusPending ||
			it.Attempts != 0 || it.LastError != "" || !it.CreatedAt.Equal(clk.Now()) {
			t.Errorf("undelivered item = %+v", it)
		}

		// Configured later (another start of Portico): the mail goes out.
		srv := mailtest.Start(t)
		n2 := newNode(t, d, keyset, notify.Options{SMTPURL: srv.URL()})
		deliver(t, n2, 1, 0)
		if m := srv.WaitFor(t, nil, 5*time.Second); m.Subject != "Your password was changed" {
			t.Errorf("subject = %q", m.Subject)
		}
		if u := undelivered(t, n2); len(u) != 0 {
			t.Errorf("still undelivered: %+v", u)
		}
	})
}

// TestRetryAfterTemporaryFailures covers MTL-1.1: a temporary refusal
// (4xx) is retried with exponential back-off until it succeeds, and the
// recorded error names the SMTP status, not the recipient.
func TestRetryAfterTemporaryFailures(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		srv := mailtest.Start(t, mailtest.TemporaryFailures(2))
		n := newNode(t, d, "", notify.Options{SMTPURL: srv.URL(), MaxAttempts: 5, RetryBase: time.Minute})
		acct := newAccount(t, d)
		const to = "carol@example.test"
		queue(t, n, email(acct, to, "Sign-in blocked", "We blocked a sign-in from 192.0.2.1."))

		deliver(t, n, 0, 1) // attempt 1: 451
		u := undelivered(t, n)
		if len(u) != 1 || u[0].Status != notify.StatusPending || u[0].Attempts != 1 ||
			!strings.Contains(u[0].LastError, "451") || strings.Contains(u[0].LastError, to) {
			t.Fatalf("after one temporary failure: %+v", u)
		}
		if want := clk.Now().Add(time.Minute); !u[0].NextAttemptAt.Equal(want) {
			t.Errorf("next attempt at %v, want %v (RetryBase)", u[0].NextAttemptAt, want)
		}
		deliver(t, n, 0, 0) // not due yet
		clk.Add(time.Minute)
		deliver(t, n, 0, 1) // attempt 2: 451, next in 2 minutes
		clk.Add(time.Minute)
		deliver(t, n, 0, 0) // back-off doubled: still not due
		clk.Add(time.Minute)
		deliver(t, n, 1, 0) // attempt 3: accepted

		if got := srv.Attempts(); got != 3 {
			t.Errorf("server saw %d deliveries, want 3", got)
		}
		if got := len(srv.Messages()); got != 1 {
			t.Errorf("%d messages accepted, want 1", got)
		}
		ev := events(t, d, "notice.email.")
		if len(ev) != 1 || ev[0].Action != "notice.email.sent" || ev[0].Details["attempts"] != float64(3) {
			t.Errorf("audit events = %+v", ev)
		}
		if logs := n.logs.String(); strings.Contains(logs, to) || !strings.Contains(logs, "will retry") {
			t.Errorf("log:\n%s", logs)
		}
	})
}

// TestFailedAfterMaxAttempts covers CP-5.3 and MTL-1.1: mail that keeps
// failing is marked failed after MaxAttempts with a failure audit event
// (kind and attempts only), stays listed as undelivered, is not tried
// again, and can be requeued by an administrator; a permanent refusal
// (5xx) fails at once.
func TestFailedAfterMaxAttempts(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t, mailtest.TemporaryFailures(3))
		n := newNode(t, d, "", notify.Options{SMTPURL: srv.URL(), MaxAttempts: 3, RetryBase: time.Second})
		acct := newAccount(t, d)
		queue(t, n, email(acct, "dave@example.test", "Account locked", "Locked after 10 failed sign-ins."))

		for range 3 {
			deliver(t, n, 0, 1)
			clk.Add(time.Hour)
		}
		deliver(t, n, 0, 0) // given up: not tried again
		if got := srv.Attempts(); got != 3 {
			t.Errorf("server saw %d deliveries, want 3", got)
		}
		u := undelivered(t, n)
		if len(u) != 1 || u[0].Status != notify.StatusFailed || u[0].Attempts != 3 || !strings.Contains(u[0].LastError, "451") {
			t.Fatalf("undelivered = %+v", u)
		}
		ev := events(t, d, "notice.email.")
		if len(ev) != 1 || ev[0].Action != "notice.email.failed" || ev[0].Outcome != "failure" ||
			ev[0].Target != "outbox:"+u[0].ID ||
			!reflect.DeepEqual(ev[0].Details, map[string]any{"kind": "security.test", "attempts": float64(3)}) {
			t.Errorf("audit events = %+v", ev)
		}

		// An administrator requeues it; the server now accepts it.
		if err := n.svc.Requeue(ctx, u[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := n.svc.Requeue(ctx, u[0].ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("requeue of a pending message = %v, want NotFound", err)
		}
		deliver(t, n, 1, 0)
		if ev := events(t, d, "notice.email.requeue"); len(ev) != 1 || ev[0].Target != "outbox:"+u[0].ID {
			t.Errorf("requeue events = %+v", ev)
		}

		t.Run("permanent refusal fails at once", func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.PermanentFailures(1))
			n := newNode(t, d, "", notify.Options{SMTPURL: srv.URL(), MaxAttempts: 5})
			acct := newAccount(t, d)
			queue(t, n, email(acct, "erin@example.test", "Notice", "Text."))
			deliver(t, n, 0, 1)
			clk.Add(24 * time.Hour)
			deliver(t, n, 0, 0)
			var failed []notify.OutboxItem
			for _, it := range undelivered(t, n) {
				if it.AccountID == acct {
					failed = append(failed, it)
				}
			}
			if len(failed) != 1 || failed[0].Status != notify.StatusFailed || failed[0].Attempts != 1 ||
				!strings.Contains(failed[0].LastError, "refused permanently (SMTP 554") || strings.Contains(failed[0].LastError, "erin") {
				t.Errorf("after a 554: %+v", failed)
			}
		})
	})
}

// TestErasedAccountMailNotSent covers CP-5.2 with the outbox: once an
// account's data key is destroyed its queued mail cannot be read, so it is
// marked failed, never sent as garbage; deleting the account removes its
// mail and notices.
func TestErasedAccountMailNotSent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		n := newNode(t, d, "", notify.Options{SMTPURL: srv.URL()})
		acct := newAccount(t, d)
		inTx(t, d, func(ctx context.Context, tx *db.Tx) error {
			_, err := n.svc.Notify(ctx, tx, notify.Notice{AccountID: acct, Kind: "security.test", Title: "T", Body: "B"}, "frank@example.test")
			return err
		})
		inTx(t, d, func(ctx context.Context, tx *db.Tx) error { return n.keys.DestroySubjectKey(ctx, tx, acct) })
		deliver(t, n, 0, 1)
		if len(srv.Messages()) != 0 {
			t.Error("mail of an erased account was sent")
		}
		u := undelivered(t, n)
		if len(u) != 1 || u[0].Status != notify.StatusFailed || !strings.Contains(u[0].LastError, "destroyed") {
			t.Errorf("undelivered = %+v", u)
		}
		if _, err := n.svc.Inbox(ctx, acct, 0); err == nil {
			t.Error("Inbox decrypted notices of an erased account")
		}

		inTx(t, d, func(ctx context.Context, tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, acct)
			return err
		})
		var left int
		if err := d.QueryRowContext(ctx,
			`SELECT (SELECT count(*) FROM outbox WHERE account_id = $1) + (SELECT count(*) FROM notices WHERE account_id = $1)`, acct).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d outbox rows and notices outlived their account", left)
		}
	})
}

// TestRejectsBadInput checks what QueueEmail, Post and Notify refuse:
// header injection through the address or subject, malformed kinds,
// control characters; and that Notify writes nothing when the address is
// bad.
func TestRejectsBadInput(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	n := newNode(t, d, "", notify.Options{})
	acct := newAccount(t, d)
	ok := email(acct, "grace@example.test", "Subject", "Text")
	for _, tc := range []struct {
		name string
		edit func(*notify.Email)
	}{
		{"address with a header", func(e *notify.Email) { e.To = "grace@example.test\r\nBcc: eve@example.test" }},
		{"address with a name", func(e *notify.Email) { e.To = "Grace <grace@example.test>" }},
		{"two addresses", func(e *notify.Email) { e.To = "grace@example.test, eve@example.test" }},
		{"not an address", func(e *notify.Email) { e.To = "grace" }},
		{"subject with a header", func(e *notify.Email) { e.Subject = "Hi\r\nBcc: eve@example.test" }},
		{"empty subject", func(e *notify.Email) { e.Subject = " " }},
		{"empty text", func(e *notify.Email) { e.Text = "" }},
		{"NUL in text", func(e *notify.Email) { e.Text = "a\x00b" }},
		{"invalid UTF-8", func(e *notify.Email) { e.Text = "a\xffb" }},
		{"text too long", func(e *notify.Email) { e.Text = strings.Repeat("a", 65<<10) }},
		{"kind with spaces", func(e *notify.Email) { e.Kind = "Security Notice" }},
		{"empty kind", func(e *notify.Email) { e.Kind = "" }},
		{"no account", func(e *notify.Email) { e.AccountID = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			tc.edit(&m)
			err := d.Transact(context.Background(), func(tx *db.Tx) error { return n.svc.QueueEmail(context.Background(), tx, m) })
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("QueueEmail = %v, want Invalid", err)
			}
			if strings.Contains(apperr.MessageOf(err), "eve@") || strings.Contains(apperr.MessageOf(err), "grace") {
				t.Errorf("message %q quotes the input", apperr.MessageOf(err))
			}
		})
	}
	t.Run("unknown account", func(t *testing.T) {
		err := d.Transact(context.Background(), func(tx *db.Tx) error {
			return n.svc.QueueEmail(context.Background(), tx, email("nosuchaccount", "x@example.test", "S", "T"))
		})
		if err == nil {
			t.Error("mail queued for an account that does not exist")
		}
	})
	t.Run("title with a line break", func(t *testing.T) {
		err := d.Transact(context.Background(), func(tx *db.Tx) error {
			_, err := n.svc.Post(context.Background(), tx, notify.Notice{AccountID: acct, Kind: "security.test", Title: "a\nb", Body: "x"})
			return err
		})
		if apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("Post = %v, want Invalid", err)
		}
	})
	t.Run("Notify with a bad address writes nothing", func(t *testing.T) {
		// The caller commits even though Notify failed: nothing may have
		// been written by then.
		_ = d.Transact(context.Background(), func(tx *db.Tx) error {
			_, err := n.svc.Notify(context.Background(), tx, notify.Notice{AccountID: acct, Kind: "security.test", Title: "T", Body: "B"}, "bad")
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("Notify = %v, want Invalid", err)
			}
			return nil
		})
		if items, _ := n.svc.Inbox(context.Background(), acct, 0); len(items) != 0 {
			t.Errorf("inbox has %d notices", len(items))
		}
	})
}

// TestTerminalMailPrintsAndMarksSent: with --smtp-url terminal: (trying
// Portico on localhost; the configuration refuses it elsewhere) queued mail
// is printed, link and all, and counts as sent, so sign-up can be finished
// without a mail server.
func TestTerminalMailPrintsAndMarksSent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		var out syncBuffer
		n := newNode(t, d, "", notify.Options{SMTPURL: "terminal:", Terminal: &out})
		if !n.svc.MailConfigured() {
			t.Error("terminal mail does not count as configured")
		}
		acct := newAccount(t, d)
		queue(t, n, email(acct, "new@example.test", "Confirm your email address", "Open https://localhost:8443/verify/abc to confirm."))
		deliver(t, n, 1, 0)
		got := out.String()
		for _, want := range []string{"To: new@example.test", "Subject: Confirm your email address", "https://localhost:8443/verify/abc"} {
			if !strings.Contains(got, want) {
				t.Errorf("terminal output lacks %q:\n%s", want, got)
			}
		}
		deliver(t, n, 0, 0) // sent once
		if u := undelivered(t, n); len(u) != 0 {
			t.Errorf("still undelivered: %+v", u)
		}
	})
}
