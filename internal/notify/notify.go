// Package notify delivers security notices to customers: in the portal,
// through an inbox, and by email, through a transactional outbox.
//
// Enforces CP-9.1 and MTL-5.1.2: a notice is posted to the customer's inbox
// and queued as email (Notify) in the same transaction as the change that
// causes it, so the customer is told exactly when the change commits.
//
// Enforces MTL-1.1 (nothing lost): mail is written to the outbox table, not
// sent from the request. A worker (Run, DeliverDue) sends it with retries and
// exponential back-off; mail that the server refuses for good, or that has
// used up its attempts, stays in the table as failed and is listed to
// administrators (Undelivered) with a reason, as is mail waiting while no
// mail server is configured. Two nodes never send the same message: a pass
// leases the rows it takes.
//
// Enforces CP-5.1: recipient, subject and body in the outbox, and the body
// of an inbox notice, are personal data and are stored encrypted under the
// account's own data key (internal/crypto), so erasing the account's key
// erases its mail too. Logs and audit events name outbox and notice IDs and
// kinds only, never an address or a text.
package notify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// Defaults for Options.
const (
	DefaultMaxAttempts  = 10
	DefaultRetryBase    = time.Minute
	DefaultRetryMax     = 2 * time.Hour
	DefaultPollInterval = 5 * time.Second
	DefaultBatchSize    = 10
	DefaultSendTimeout  = 30 * time.Second
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	// SMTPURL is the --smtp-url setting. Empty means no mail server: mail
	// waits in the outbox (nothing is lost) and Undelivered shows it.
	SMTPURL string
	// Terminal receives the mail when SMTPURL is "terminal:" (trying
	// Portico on localhost); nil means os.Stderr.
	Terminal io.Writer
	// Logger receives delivery outcomes (IDs, kinds and error classes,
	// never addresses or texts). nil means slog.Default().
	Logger *slog.Logger
	// MaxAttempts is how many times a message is tried before it is
	// marked failed.
	MaxAttempts int
	// RetryBase is the wait after the first failed attempt; it doubles
	// with each further attempt, up to RetryMax.
	RetryBase time.Duration
	// RetryMax caps the wait between two attempts.
	RetryMax time.Duration
	// PollInterval is how often Run looks for due mail.
	PollInterval time.Duration
	// BatchSize is how many messages one claim takes (and one SMTP
	// connection sends).
	BatchSize int
	// SendTimeout bounds each step of the SMTP conversation.
	SendTimeout time.Duration
}

// Service posts notices, queues mail and delivers it. It is safe for
// concurrent use, and several nodes may run its worker on one database.
type Service struct {
	db    *db.DB
	keys  *crypto.Keyring
	audit *audit.Log
	log   *slog.Logger
	smtp  *smtpConfig // nil: no mail server configured
	// terminal prints mail instead of sending it (--smtp-url terminal:,
	// allowed only on localhost by the configuration).
	terminal io.Writer

	maxAttempts  int
	retryBase    time.Duration
	retryMax     time.Duration
	pollInterval time.Duration
	batchSize    int
	sendTimeout  time.Duration
	lease        time.Duration
}

// New returns a notification service. It validates opts.SMTPURL (the
// --smtp-url setting) and refuses a bad one with an error that names the
// setting and never shows the password.
func New(d *db.DB, keys *crypto.Keyring, log *audit.Log, opts Options) (*Service, error) {
	if d == nil || keys == nil || log == nil {
		return nil, errors.New("notify: New needs a database, a keyring and an audit log")
	}
	s := &Service{
		db: d, keys: keys, audit: log, log: opts.Logger,
		maxAttempts:  orDefault(opts.MaxAttempts, DefaultMaxAttempts),
		retryBase:    orDefault(opts.RetryBase, DefaultRetryBase),
		retryMax:     orDefault(opts.RetryMax, DefaultRetryMax),
		pollInterval: orDefault(opts.PollInterval, DefaultPollInterval),
		batchSize:    orDefault(opts.BatchSize, DefaultBatchSize),
		sendTimeout:  orDefault(opts.SendTimeout, DefaultSendTimeout),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.retryMax = max(s.retryMax, s.retryBase)
	// A lease must outlast the sending of a whole batch, each step of which
	// may take up to sendTimeout; a pass stops sending before its lease
	// ends (see deliverBatch).
	s.lease = max(5*time.Minute, s.sendTimeout*time.Duration(s.batchSize+2))
	if opts.SMTPURL == "terminal:" {
		s.terminal = opts.Terminal
		if s.terminal == nil {
			s.terminal = os.Stderr
		}
		return s, nil
	}
	if opts.SMTPURL != "" {
		c, err := parseSMTPURL(opts.SMTPURL)
		if err != nil {
			return nil, err
		}
		// go-mail parses addresses on its own; refuse now what it would
		// refuse at every send.
		if err := gomail.NewMsg().From(c.from); err != nil {
			return nil, errSMTPURL("from= is not an address that the mail library accepts")
		}
		s.smtp = c
		if c.noTLS && !c.loopback() {
			s.log.Warn("--smtp-url has tls=none for a mail server that is not on this host: mail, with its links and notices, crosses the network unencrypted",
				"smtp_host", c.host)
		}
	}
	return s, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// MailConfigured reports whether a mail server is configured. Without one,
// mail waits in the outbox.
func (s *Service) MailConfigured() bool { return s.smtp != nil || s.terminal != nil }

// Email is a message to queue. To, Subject and Text are stored encrypted.
type Email struct {
	AccountID string // the account the mail is about and sent to
	To        string // the recipient's address (a bare addr-spec)
	Kind      string // what it is, dotted lower case: "security.new-device"
	Subject   string
	Text      string // the plain-text body, UTF-8
}

// Notice is an inbox entry to post. Body is stored encrypted; Title is
// stored in clear and must be generic ("New sign-in from a new device"),
// with the specifics (times, IP addresses, countries) in Body.
type Notice struct {
	AccountID string
	Kind      string // dotted lower case: "security.new-device"
	Title     string
	Body      string
}

// InboxItem is a decrypted inbox entry.
type InboxItem struct {
	ID        string
	Kind      string
	Title     string
	Body      string
	CreatedAt time.Time
	ReadAt    time.Time // zero while unread
}

// Read reports whether the customer has marked the notice read.
func (i InboxItem) Read() bool { return !i.ReadAt.IsZero() }

// Outbox statuses.
const (
	StatusPending = "pending" // waiting to be sent, or for its next attempt
	StatusSent    = "sent"
	StatusFailed  = "failed" // refused for good or out of attempts; needs an administrator
)

// OutboxItem describes a queued message for administrators. It holds no
// recipient, subject or body.
type OutboxItem struct {
	ID            string
	AccountID     string
	Kind          string
	Status        string // StatusPending or StatusFailed
	Attempts      int
	LastError     string // a description with the SMTP status code; never personal data
	CreatedAt     time.Time
	NextAttemptAt time.Time // when a pending message is next tried
}

// Bounds on what is stored. Notices are short; a body over these limits is
// a bug in the caller.
const (
	maxKind    = 64
	maxTitle   = 200
	maxSubject = 200
	maxText    = 64 << 10
	maxAddress = 254
)

// checkKind accepts dotted lower-case kinds ("security.new-device"): they
// go into logs and audit details, so they must be plain.
func checkKind(k string) error {
	if k == "" || len(k) > maxKind {
		return apperr.Errorf(apperr.Invalid, "A notice kind of 1 to %d characters is required.", maxKind)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' ||
			c == '.' && i > 0 && i < len(k)-1 && k[i-1] != '.'
		if !ok {
			return apperr.New(apperr.Invalid, "A notice kind is dotted lower case, such as security.new-device.")
		}
	}
	return nil
}

// checkLine accepts one line of text: a title or a subject. A line break
// in a subject would let it forge mail headers.
func checkLine(what, v string, max int) error {
	switch {
	case strings.TrimSpace(v) == "":
		return apperr.Errorf(apperr.Invalid, "The %s is required.", what)
	case !utf8.ValidString(v):
		return apperr.Errorf(apperr.Invalid, "The %s is not valid UTF-8.", what)
	case utf8.RuneCountInString(v) > max:
		return apperr.Errorf(apperr.Invalid, "The %s is too long (%d characters at most).", what, max)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return apperr.Errorf(apperr.Invalid, "The %s must be one line without control characters.", what)
	}
	return nil
}

// checkText accepts a body: UTF-8 with line breaks and tabs, but no other
// control characters (PostgreSQL refuses NUL; the rest have no place in a
// notice).
func checkText(what, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return apperr.Errorf(apperr.Invalid, "The %s is required.", what)
	case !utf8.ValidString(v):
		return apperr.Errorf(apperr.Invalid, "The %s is not valid UTF-8.", what)
	case len(v) > maxText:
		return apperr.Errorf(apperr.Invalid, "The %s is too long (%d bytes at most).", what, maxText)
	case strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0:
		return apperr.Errorf(apperr.Invalid, "The %s holds control characters.", what)
	}
	return nil
}

// checkAddress accepts a bare address (user@example.com). Messages never
// quote it.
func checkAddress(a string) error {
	p, err := mail.ParseAddress(a)
	if err != nil || p.Address != a || p.Name != "" || len(a) > maxAddress || strings.ContainsAny(a, "\r\n") {
		return apperr.New(apperr.Invalid, "The recipient is not an email address like name@example.com.")
	}
	return nil
}

func (e Email) validate() error {
	if e.AccountID == "" {
		return apperr.New(apperr.Invalid, "An email needs the account it belongs to.")
	}
	return firstOf(checkKind(e.Kind), checkAddress(e.To), checkLine("subject", e.Subject, maxSubject), checkText("text", e.Text))
}

func (n Notice) validate() error {
	if n.AccountID == "" {
		return apperr.New(apperr.Invalid, "A notice needs the account it belongs to.")
	}
	return firstOf(checkKind(n.Kind), checkLine("title", n.Title, maxTitle), checkText("body", n.Body))
}

// firstOf returns the first non-nil error: one message to fix at a time.
func firstOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// newID returns an unguessable identifier (128 bits from crypto/rand).
func newID() string { return strings.ToLower(rand.Text()) }

// Fields where the encrypted columns live; the row ID is bound into the
// ciphertext, so a ciphertext moved to another row does not decrypt.
func outboxField(column, id string) crypto.Field {
	return crypto.Field{Table: "outbox", Column: column, Row: id}
}

func noticeField(id string) crypto.Field {
	return crypto.Field{Table: "notices", Column: "body_enc", Row: id}
}

// encrypt encrypts one field of subject's personal data in tx.
func (s *Service) encrypt(ctx context.Context, tx *db.Tx, subject string, f crypto.Field, v string) ([]byte, error) {
	ct, err := s.keys.Encrypt(ctx, tx, subject, f, []byte(v))
	if err != nil {
		return nil, fmt.Errorf("notify: encrypt %s.%s: %w", f.Table, f.Column, err)
	}
	return ct, nil
}
