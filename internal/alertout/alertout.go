// Package alertout delivers security alerts to the security team's own
// tools: to a SIEM's webhook (JSON, signed with HMAC-SHA256) and to a
// syslog collector (RFC 5424 over TLS, RFC 5425 framing).
//
// Enforces CP-3.2 and CP-8.1: an alert is written to the alert_outbox
// table (Queue) in the same transaction as the detection that raises it,
// one row per configured channel, so it exists exactly when the detection
// is committed. A worker (Run, DeliverDue) sends it afterwards, retrying
// with exponential back-off until the receiver takes it; an alert that has
// used up its attempts stays in the table as failed, with an error in the
// log. Nothing is lost while a receiver is down, and two nodes never send
// the same row: a pass leases the rows it takes.
//
// Payloads hold no personal data (opaque IDs, rule names, severities,
// counts): the caller builds them that way, and they are stored and sent
// in clear. Logs name row IDs, channels and error classes, never a
// payload.
package alertout

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/portico/portico/internal/db"
)

// Channel names a delivery channel; it is the alert_outbox.channel value.
type Channel string

// The channels.
const (
	Webhook Channel = "webhook"
	Syslog  Channel = "syslog"
)

// channels lists every channel, in the order Queue writes them.
var channels = []Channel{Webhook, Syslog}

// Defaults for Config.
const (
	DefaultMaxAttempts = 20
	DefaultTimeout     = 10 * time.Second
	DefaultAppName     = "portico"
	// MinSecretLen is the shortest webhook secret Validate accepts: a
	// 256-bit HMAC key.
	MinSecretLen = 32
)

// Config configures a Service. A channel is configured when its address
// is set; zero values of the rest take the defaults.
type Config struct {
	// WebhookURL receives each alert as a signed JSON POST. It must be
	// https, or http to a loopback address (a local forwarding agent).
	WebhookURL string
	// WebhookSecret keys the HMAC-SHA256 signature (at least MinSecretLen
	// bytes); receivers check it with Verify.
	WebhookSecret []byte
	// SyslogAddr is the collector's host:port (6514 is syslog over TLS).
	SyslogAddr string
	// SyslogTLS is the TLS client configuration for the collector (roots,
	// client certificate). nil means the system's roots; ServerName
	// defaults to SyslogAddr's host; TLS 1.2 is the minimum whatever it
	// says.
	SyslogTLS *tls.Config
	// Hostname and AppName fill the syslog header. Hostname defaults to
	// os.Hostname(), AppName to DefaultAppName.
	Hostname, AppName string
	// MaxAttempts is how many times an alert is tried on a channel before
	// it is marked failed.
	MaxAttempts int
	// Backoff is the wait after the attempt-th failed attempt (1, 2, ...).
	// nil means DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Timeout bounds one delivery: the whole HTTP exchange, or the syslog
	// dial and handshake, and each write.
	Timeout time.Duration
	// Logger receives delivery outcomes (row IDs, channels, error classes;
	// never a payload). nil means slog.Default().
	Logger *slog.Logger
}

// DefaultBackoff waits 30 seconds after the first failed attempt, doubling
// with each further one, up to an hour.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 8 {
		return time.Hour
	}
	return min(30*time.Second<<(attempt-1), time.Hour)
}

// Validate checks the configuration, for start-up: a program should refuse
// to start with an error here. A Service made from an invalid
// configuration still queues alerts for the configured channels, but does
// not send on a channel whose settings are wrong: its alerts wait.
func (c Config) Validate() error {
	return errors.Join(c.validateWebhook(), c.validateSyslog())
}

func (c Config) validateWebhook() error {
	if c.WebhookURL == "" {
		return nil
	}
	u, err := url.Parse(c.WebhookURL)
	if err != nil || u.Host == "" {
		return errors.New("alertout: the webhook URL is not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return errors.New("alertout: the webhook URL must be https (http only to a loopback address)")
	}
	if u.User != nil {
		return errors.New("alertout: the webhook URL must not hold credentials; the requests are signed with the webhook secret")
	}
	if len(c.WebhookSecret) < MinSecretLen {
		return fmt.Errorf("alertout: the webhook secret must be at least %d bytes", MinSecretLen)
	}
	return nil
}

func (c Config) validateSyslog() error {
	if c.SyslogAddr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(c.SyslogAddr)
	if err != nil || host == "" || port == "" {
		return errors.New("alertout: the syslog address must be host:port")
	}
	if c.SyslogTLS != nil && c.SyslogTLS.InsecureSkipVerify {
		return errors.New("alertout: the syslog TLS configuration must verify the collector's certificate")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Service queues alerts and delivers them. It is safe for concurrent use,
// and several nodes may run its worker on one database.
type Service struct {
	db  *db.DB
	log *slog.Logger

	webhookURL    string // "" when not configured
	webhookSecret []byte
	http          *http.Client

	syslogAddr string // "" when not configured
	syslogTLS  *tls.Config
	hostname   string // header fields, already made valid
	appName    string
	procID     string

	// sendable is the set of configured channels whose settings are valid:
	// the worker sends only these.
	sendable []Channel

	maxAttempts int
	backoff     func(int) time.Duration
	timeout     time.Duration
	batchSize   int
	lease       time.Duration
}

// defaultBatchSize is how many rows one claim takes.
const defaultBatchSize = 20

// New returns the alert delivery service over d. An invalid configuration
// (see Validate) is logged as an error; the channels it concerns queue but
// do not send.
func New(d *db.DB, cfg Config) *Service {
	s := &Service{
		db:            d,
		log:           cfg.Logger,
		webhookURL:    cfg.WebhookURL,
		webhookSecret: append([]byte(nil), cfg.WebhookSecret...),
		syslogAddr:    cfg.SyslogAddr,
		maxAttempts:   cfg.MaxAttempts,
		backoff:       cfg.Backoff,
		timeout:       cfg.Timeout,
		batchSize:     defaultBatchSize,
		procID:        fmt.Sprint(os.Getpid()),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = DefaultMaxAttempts
	}
	if s.backoff == nil {
		s.backoff = DefaultBackoff
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	// A lease outlasts the sending of a whole batch, each delivery of which
	// may take up to timeout; a pass stops sending before its lease ends.
	s.lease = max(5*time.Minute, s.timeout*time.Duration(s.batchSize+3))

	s.hostname = cfg.Hostname
	if s.hostname == "" {
		s.hostname, _ = os.Hostname()
	}
	s.hostname = headerField(s.hostname, 255)
	s.appName = cfg.AppName
	if s.appName == "" {
		s.appName = DefaultAppName
	}
	s.appName = headerField(s.appName, 48)

	if s.webhookURL != "" {
		if err := cfg.validateWebhook(); err != nil {
			s.log.Error("alert webhook not used: alerts for it wait in the outbox until the setting is fixed", "error", err)
		} else {
			s.http = newHTTPClient(s.timeout)
			s.sendable = append(s.sendable, Webhook)
		}
	}
	if s.syslogAddr != "" {
		if err := cfg.validateSyslog(); err != nil {
			s.log.Error("alert syslog not used: alerts for it wait in the outbox until the setting is fixed", "error", err)
		} else {
			s.syslogTLS = syslogTLSConfig(cfg.SyslogTLS, s.syslogAddr)
			s.sendable = append(s.sendable, Syslog)
		}
	}
	return s
}

// Enabled reports whether channel is configured: Queue writes alerts for
// it.
func (s *Service) Enabled(channel Channel) bool {
	switch channel {
	case Webhook:
		return s.webhookURL != ""
	case Syslog:
		return s.syslogAddr != ""
	}
	return false
}

// Queue writes the alert payload to the outbox inside the caller's
// transaction, once for each configured channel, with one JSON encoding
// that every channel sends as it is. payload must encode as a JSON object,
// and should carry "id", "rule" and "severity" (see the syslog format). It
// must hold no personal data: it is stored and sent in clear. With no
// channel configured it writes nothing.
//
// Enforces CP-3.2, CP-8.1: the alert is durable, with the detection that
// raises it, before anyone tries to send it; it leaves the table only as
// sent or, after every attempt, failed: nothing is lost.
func (s *Service) Queue(ctx context.Context, tx *db.Tx, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("alertout: encode alert: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return errors.New("alertout: an alert must be a JSON object")
	}
	now := tx.Now()
	for _, ch := range channels {
		if !s.Enabled(ch) {
			continue
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO alert_outbox (id, channel, payload, status, attempts, next_attempt_at, created_at)
			 VALUES ($1, $2, $3, 'pending', 0, $4, $4)`,
			newID(), string(ch), string(body), now); err != nil {
			return fmt.Errorf("alertout: queue alert: %w", err)
		}
	}
	return nil
}

func newID() string { return strings.ToLower(rand.Text()) }
