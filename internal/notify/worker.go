package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
	mailsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// Run delivers due mail every PollInterval until ctx ends. Without a mail
// server configured it only waits for ctx: the mail stays in the outbox.
// A failed pass is logged and tried again at the next tick.
func (s *Service) Run(ctx context.Context) {
	if s.terminal != nil {
		s.log.Warn("mail is printed on this terminal (--smtp-url terminal:), links included: for trying Portico on this machine only")
	}
	if s.smtp == nil && s.terminal == nil {
		s.log.Info("no mail server configured (--smtp-url): mail stays in the outbox, listed to administrators as undelivered")
		<-ctx.Done()
		return
	}
	t := time.NewTicker(s.pollInterval)
	defer t.Stop()
	for {
		sent, failed, err := s.DeliverDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("mail delivery pass failed", "error", err)
		case sent+failed > 0:
			s.log.Info("mail delivery pass", "sent", sent, "failed", failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// claimed is an outbox row taken by one pass, still encrypted.
type claimed struct {
	id, accountID, kind      string
	recipient, subject, body []byte
	attempts                 int // including this one
	createdAt                time.Time
}

// DeliverDue makes one delivery pass: it takes the due pending messages in
// batches, sends each, and records the outcome: sent, a retry after an
// exponential back-off, or failed for good (refused permanently by the
// server, or out of attempts). sent counts the messages delivered and
// failed the attempts that did not deliver (retried later or given up).
// Without a mail server configured it does nothing.
//
// Each batch is leased: on PostgreSQL the rows are locked with FOR UPDATE
// SKIP LOCKED in a short transaction that stamps them with this pass's
// token and moves their next attempt past the lease, so a concurrent pass
// on any node skips them; SQLite has a single writer, which serialises the
// claims. Outcomes are recorded only while the token still matches. A node
// that dies mid-send leaves its rows due again when the lease ends, so
// delivery is at least once: a message can be sent twice only if a node
// dies between the server's acceptance and the commit that records it; it
// keeps its Message-ID, so the recipient's mail system can tell.
func (s *Service) DeliverDue(ctx context.Context) (sent, failed int, err error) {
	if s.smtp == nil && s.terminal == nil {
		return 0, 0, nil
	}
	for ctx.Err() == nil {
		token := newID()
		batch, err := s.claim(ctx, token)
		if err != nil {
			return sent, failed, err
		}
		if len(batch) == 0 {
			break
		}
		st, fl, err := s.deliverBatch(ctx, token, batch)
		sent, failed = sent+st, failed+fl
		if err != nil {
			return sent, failed, err
		}
		if len(batch) < s.batchSize {
			break
		}
	}
	return sent, failed, nil
}

// claim leases up to batchSize due pending messages for token and counts
// the attempt.
func (s *Service) claim(ctx context.Context, token string) ([]claimed, error) {
	lock := ""
	if s.db.Dialect() == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var out []claimed
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		out = out[:0]
		now := tx.Now()
		rows, err := tx.QueryContext(ctx,
			`UPDATE outbox SET claimed_by = $1, next_attempt_at = $2, attempts = attempts + 1
			 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3
			              ORDER BY next_attempt_at, id LIMIT $4`+lock+`)
			 RETURNING id, account_id, kind, recipient_enc, subject_enc, body_enc, attempts, created_at`,
			token, now.Add(s.lease), now, s.batchSize)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.id, &c.accountID, &c.kind, &c.recipient, &c.subject, &c.body, &c.attempts, &c.createdAt); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("notify: claim due mail: %w", err)
	}
	// RETURNING has no order; send the oldest first.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].createdAt.Equal(out[j].createdAt) {
			return out[i].createdAt.Before(out[j].createdAt)
		}
		return out[i].id < out[j].id
	})
	return out, nil
}

// outcome is what became of one attempt.
type outcome struct {
	sent      bool
	permanent bool   // retrying cannot help: mark failed now
	reason    string // for last_error and the log: never personal data
}

// deliverBatch sends a claimed batch over one SMTP connection and records
// each outcome. Messages it cannot get to (ctx ended, lease running out)
// are released for the next pass without using up an attempt.
func (s *Service) deliverBatch(ctx context.Context, token string, batch []claimed) (sent, failed int, err error) {
	// Outcomes are recorded even when ctx ends mid-batch: a message that the
	// server accepted must be marked sent, or it would be sent again.
	rec := context.WithoutCancel(ctx)

	// Stop sending while a whole send still fits in the lease, measured on
	// this process's monotonic clock.
	stopAt := time.Now().Add(s.lease - 3*s.sendTimeout)
	if s.terminal != nil {
		for _, m := range batch {
			s.record(rec, token, m, s.print(ctx, m))
			sent++
		}
		return sent, 0, nil
	}
	client, err := s.newClient()
	if err != nil {
		s.releaseAll(rec, token, batch)
		return 0, 0, err
	}
	var conn *mailsmtp.Client
	defer func() {
		if conn != nil {
			_ = client.CloseWithSMTPClient(conn)
		}
	}()

	for i, m := range batch {
		if ctx.Err() != nil || time.Now().After(stopAt) {
			s.releaseAll(rec, token, batch[i:])
			return sent, failed, nil
		}
		var o outcome
		var msg *mail.Msg
		if m.attempts > s.maxAttempts {
			// The pass that made the last attempt ended before recording
			// it (a crash): the attempts are used up.
			o = outcome{permanent: true, reason: "attempts used up (the last attempt was interrupted)"}
		} else if msg, err = s.compose(ctx, m); err != nil {
			o = outcomeOf(err)
		}
		if msg != nil {
			if conn == nil {
				conn, err = client.DialToSMTPClientWithContext(ctx)
				if err != nil {
					conn = nil
					if ctx.Err() != nil {
						s.releaseAll(rec, token, batch[i:])
						return sent, failed, nil
					}
					// The server is unreachable for every message left.
					s.log.Warn("cannot reach the mail server", "smtp_host", s.smtp.host, "error", err)
					reason := dialReason(err)
					for _, r := range batch[i:] {
						s.record(rec, token, r, outcome{reason: reason})
						failed++
					}
					return sent, failed, nil
				}
			}
			o = sendOutcome(client.SendWithSMTPClient(conn, msg))
			if !o.sent && !o.permanent && strings.HasPrefix(o.reason, connLost) {
				_ = client.CloseWithSMTPClient(conn)
				conn = nil
			}
		}
		s.record(rec, token, m, o)
		if o.sent {
			sent++
		} else {
			failed++
		}
	}
	return sent, failed, nil
}

// print writes a claimed message on the terminal (--smtp-url terminal:).
func (s *Service) print(ctx context.Context, m claimed) outcome {
	parts, err := s.open(ctx, m)
	if err != nil {
		return outcomeOf(err)
	}
	fmt.Fprintf(s.terminal, "\n----- mail (--smtp-url terminal:) -----\nTo: %s\nSubject: %s\n\n%s\n----- end of mail -----\n", parts[0], parts[1], parts[2])
	return outcome{sent: true}
}

// compose decrypts a claimed message and builds the mail: plain text in
// UTF-8, with Date, Message-ID and the configured From. The Message-ID is
// derived from the outbox ID, so a retry carries the same one.
func (s *Service) compose(ctx context.Context, m claimed) (*mail.Msg, error) {
	plain, err := s.open(ctx, m)
	if err != nil {
		return nil, err
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(s.smtp.from); err != nil {
		return nil, &outcomeError{permanent: true, reason: "the From address of --smtp-url is refused by the mail library"}
	}
	if err := msg.To(plain[0]); err != nil {
		return nil, &outcomeError{permanent: true, reason: "the recipient address is refused by the mail library"}
	}
	msg.Subject(plain[1])
	msg.SetDateWithValue(s.db.Now())
	msg.SetMessageIDWithValue(m.id + "@" + s.smtp.fromDomain)
	// RFC 3834: no vacation replies to notices.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, plain[2])
	return msg, nil
}

// open decrypts a claimed message: recipient, subject and text.
func (s *Service) open(ctx context.Context, m claimed) ([3]string, error) {
	var plain [3]string
	for i, f := range []struct {
		column string
		ct     []byte
	}{{"recipient_enc", m.recipient}, {"subject_enc", m.subject}, {"body_enc", m.body}} {
		pt, err := s.keys.Decrypt(ctx, s.db, m.accountID, outboxField(f.column, m.id), f.ct)
		switch {
		case errors.Is(err, crypto.ErrSubjectKeyDestroyed):
			return plain, &outcomeError{permanent: true, reason: "cannot decrypt: the account's data key was destroyed (erased)"}
		case errors.Is(err, crypto.ErrAuthentication), errors.Is(err, crypto.ErrNoSubjectKey):
			return plain, &outcomeError{permanent: true, reason: "cannot decrypt: the stored message failed authentication"}
		case err != nil:
			s.log.Error("cannot decrypt queued mail", "outbox_id", m.id, "error", err)
			return plain, &outcomeError{reason: "cannot decrypt: keyring or database error (see the log)"}
		}
		plain[i] = string(pt)
	}
	return plain, nil
}

// outcomeError is a failure found before sending, with its outcome.
type outcomeError outcome

func (e *outcomeError) Error() string { return e.reason }

func outcomeOf(err error) outcome {
	var oe *outcomeError
	if errors.As(err, &oe) {
		return outcome(*oe)
	}
	return outcome{reason: "cannot compose the message"}
}

// newClient makes a go-mail client for the configured server: implicit
// TLS for smtps://, STARTTLS required for smtp://, plain text only with
// tls=none; TLS 1.2 at least, with the system's roots.
func (s *Service) newClient() (*mail.Client, error) {
	c := s.smtp
	opts := []mail.Option{
		mail.WithPort(c.port),
		mail.WithTimeout(s.sendTimeout),
		mail.WithTLSConfig(&tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12}),
	}
	switch {
	case c.implicitTLS:
		opts = append(opts, mail.WithSSL())
	case c.noTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if c.user != "" {
		// Over TLS, the strongest mechanism that the server offers. Without
		// TLS (only allowed to loopback) PLAIN, which go-mail sends in
		// clear text only to localhost.
		auth := mail.SMTPAuthAutoDiscover
		if c.noTLS {
			auth = mail.SMTPAuthPlain
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(c.user), mail.WithPassword(c.pass))
	}
	client, err := mail.NewClient(c.host, opts...)
	if err != nil {
		return nil, errors.New("notify: cannot set up the mail client for --smtp-url")
	}
	return client, nil
}

// connLost starts the reason of a failure that leaves the SMTP connection
// unusable.
const connLost = "connection to the mail server failed"

// sendOutcome turns go-mail's answer into an outcome. The reason keeps
// only the SMTP step and status codes: the server's text and go-mail's
// message can both quote the recipient's address.
func sendOutcome(err error) outcome {
	if err == nil {
		return outcome{sent: true}
	}
	var se *mail.SendError
	if !errors.As(err, &se) {
		return outcome{reason: connLost}
	}
	code := se.ErrorCode()
	status := ""
	if esc := se.EnhancedStatusCode(); esc != "" {
		status = " " + esc
	}
	switch {
	case code >= 500 && code < 600:
		return outcome{permanent: true, reason: fmt.Sprintf("%s: refused permanently (SMTP %d%s)", se.Reason, code, status)}
	case code >= 400 && code < 500:
		return outcome{reason: fmt.Sprintf("%s: refused temporarily (SMTP %d%s)", se.Reason, code, status)}
	}
	return outcome{reason: fmt.Sprintf("%s (%s)", connLost, se.Reason)}
}

// dialReason describes why connecting, TLS or AUTH failed, in words that
// hold no address or secret (the log line has the full error).
func dialReason(err error) string {
	var ne net.Error
	var cv *tls.CertificateVerificationError
	msg := err.Error()
	switch {
	case errors.As(err, &cv):
		return connLost + ": the server's TLS certificate is not trusted"
	case errors.As(err, &ne) && ne.Timeout():
		return connLost + ": timed out"
	case strings.Contains(msg, "STARTTLS"):
		return connLost + ": the server does not offer STARTTLS, which smtp:// requires"
	case strings.Contains(msg, "AUTH") || strings.Contains(msg, "auth"):
		return connLost + ": authentication failed" + smtpCode(msg)
	case strings.Contains(msg, "tls:"):
		return connLost + ": TLS handshake failed"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return connLost + ": cannot connect"
	}
	return connLost + smtpCode(msg)
}

// smtpCode returns " (SMTP nnn)" when msg starts with an SMTP reply code.
func smtpCode(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 && len(msg) >= i+5 {
		c := msg[i+2 : i+5]
		if c[0] >= '2' && c[0] <= '5' && c[1] >= '0' && c[1] <= '9' && c[2] >= '0' && c[2] <= '9' {
			return " (SMTP " + c + ")"
		}
	}
	return ""
}

// backoff is the wait after the n-th failed attempt: RetryBase doubled per
// attempt, at most RetryMax.
func (s *Service) backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 30 {
		return s.retryMax
	}
	return min(s.retryBase<<(n-1), s.retryMax)
}

// recordTimeout bounds the recording of an outcome, which runs on after
// the pass's context ends.
const recordTimeout = 30 * time.Second

// record stores the outcome of one attempt, with its audit event when the
// message reached a final state, if this pass still holds the lease.
func (s *Service) record(ctx context.Context, token string, m claimed, o outcome) {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	final := o.sent || o.permanent || m.attempts >= s.maxAttempts
	var held bool
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		var q string
		args := []any{m.id, token}
		switch {
		case o.sent:
			q = `UPDATE outbox SET status = 'sent', sent_at = $3, last_error = '', claimed_by = NULL
			     WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`
			args = append(args, now)
		case final:
			q = `UPDATE outbox SET status = 'failed', last_error = $3, claimed_by = NULL
			     WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`
			args = append(args, o.reason)
		default:
			q = `UPDATE outbox SET next_attempt_at = $3, last_error = $4, claimed_by = NULL
			     WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`
			args = append(args, now.Add(s.backoff(m.attempts)), o.reason)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n != 1 {
			return err // lease lost (or the account was deleted): record nothing
		}
		held = true
		if !final {
			return nil
		}
		e := audit.Event{
			Actor:   audit.ActorSystem,
			Action:  "notice.email.sent",
			Target:  "outbox:" + m.id,
			Outcome: audit.Success,
			Details: map[string]any{"kind": m.kind, "attempts": m.attempts},
		}
		if !o.sent {
			e.Action, e.Outcome = "notice.email.failed", audit.Failure
		}
		_, err = s.audit.Append(ctx, tx, e)
		return err
	})
	log := s.log.With("outbox_id", m.id, "kind", m.kind, "attempts", m.attempts)
	switch {
	case err != nil:
		// The row stays claimed; it is due again when the lease ends.
		log.Error("cannot record mail delivery outcome", "sent", o.sent, "error", err)
	case !held:
		log.Warn("mail delivery outcome not recorded: the lease was lost to another pass", "sent", o.sent)
	case o.sent:
		log.Info("mail sent")
	case final:
		log.Error("mail delivery failed for good; listed as undelivered", "reason", o.reason)
	default:
		log.Warn("mail delivery failed; will retry", "reason", o.reason, "retry_in", s.backoff(m.attempts).String())
	}
}

// releaseAll hands claimed messages back without counting the attempt:
// they are due again at once, for this node or another.
func (s *Service) releaseAll(ctx context.Context, token string, batch []claimed) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		for _, m := range batch {
			if _, err := tx.ExecContext(ctx,
				`UPDATE outbox SET attempts = attempts - 1, next_attempt_at = $3, claimed_by = NULL
				 WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`, m.id, token, tx.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("cannot release claimed mail; it is due again when its lease ends", "count", len(batch), "error", err)
	}
}
