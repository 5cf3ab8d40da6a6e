// Package mailtest runs a real SMTP server inside a test process, so that
// tests of mail (security notices, verification and reset links) go
// through Portico's actual SMTP client instead of a mock.
//
// The server listens on 127.0.0.1 on a free port, speaks plain SMTP (no
// TLS, no AUTH unless asked for) and keeps every message that it accepts.
// Message.Text is the decoded text body, whatever transfer encoding the
// sender chose, so that a test can find a link in it reliably.
package mailtest

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// From is the sender address that URL puts in the Portico setting.
const From = "portico@example.test"

// maxMessageBytes bounds one message; a test that sends more has a bug.
const maxMessageBytes = 10 << 20

// Option adjusts a Server.
type Option func(*config)

type config struct {
	tempFailures int
	permFailures int
	user, pass   string
}

// TemporaryFailures makes the server answer the first n deliveries (after
// their DATA is read) with "451 4.3.0", a temporary failure that the sender
// should retry. Combined with PermanentFailures, the temporary ones come
// first.
func TemporaryFailures(n int) Option { return func(c *config) { c.tempFailures = n } }

// PermanentFailures makes the server answer n deliveries with "554 5.0.0",
// a permanent failure that the sender must not retry. A negative n refuses
// every delivery.
func PermanentFailures(n int) Option { return func(c *config) { c.permFailures = n } }

// RequireAuth makes the server offer AUTH PLAIN (over plain text, which is
// acceptable only on loopback) and accept mail only from a client that
// authenticated as user with pass.
func RequireAuth(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// Server is a running test SMTP server.
type Server struct {
	t    testing.TB
	cfg  config
	srv  *smtp.Server
	addr string

	mu       sync.Mutex
	stopped  bool // the test has ended: t must not be used any more
	msgs     []Message
	attempts int           // deliveries that reached the end of DATA
	changed  chan struct{} // closed and replaced whenever msgs grows
}

// Start starts a server on 127.0.0.1 on a free port. It is stopped when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, changed: make(chan struct{})}
	for _, o := range opts {
		o(&s.cfg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	s.srv.Domain = "mailtest.example.test"
	s.srv.MaxMessageBytes = maxMessageBytes
	s.srv.MaxRecipients = 50
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.AllowInsecureAuth = s.cfg.user != ""
	s.srv.ErrorLog = testLogger{s}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Logf("mailtest: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		s.srv.Close()
		// Close only closes the listeners that Serve has registered; if
		// the test ends before Serve has run, closing l is what stops it.
		l.Close()
		<-done
	})
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the value of Portico's --smtp-url setting that sends to this
// server: plain SMTP (tls=none) from From, with the credentials when the
// server requires them.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr, RawQuery: "tls=none&from=" + From}
	if s.cfg.user != "" {
		u.User = url.UserPassword(s.cfg.user, s.cfg.pass)
	}
	return u.String()
}

// Messages returns a copy of the messages accepted so far, in the order
// they arrived. Refused deliveries are not among them.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Attempts is the number of deliveries that reached the end of DATA,
// refused ones included.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// WaitFor returns the first accepted message for which match reports true,
// waiting up to timeout for it to arrive. It fails the test (t.Fatalf) on
// timeout, listing the subjects that did arrive. A nil match takes any
// message.
func (s *Server) WaitFor(t testing.TB, match func(Message) bool, timeout time.Duration) Message {
	t.Helper()
	if match == nil {
		match = func(Message) bool { return true }
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if match(m) {
				s.mu.Unlock()
				return m
			}
		}
		changed := s.changed
		var subjects []string
		for _, m := range s.msgs {
			subjects = append(subjects, m.Subject)
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("mailtest: no matching message within %v; %d arrived, with subjects %q", timeout, len(subjects), subjects)
			return Message{}
		}
	}
}

// deliver records one delivery attempt and decides its answer.
func (s *Server) deliver(from string, to []string, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	switch {
	case s.cfg.tempFailures > 0:
		s.cfg.tempFailures--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailtest: try again later"}
	case s.cfg.permFailures != 0:
		if s.cfg.permFailures > 0 {
			s.cfg.permFailures--
		}
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 0, 0}, Message: "mailtest: rejected"}
	}
	m, err := parse(raw)
	if err != nil && !s.stopped {
		s.t.Logf("mailtest: message %d does not parse: %v", len(s.msgs)+1, err)
	}
	m.From = from
	m.To = to
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// session is one SMTP connection's state.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ss *session) AuthMechanisms() []string {
	if ss.s.cfg.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.s.cfg.user == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user || user != ss.s.cfg.user || pass != ss.s.cfg.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.cfg.user != "" && !ss.authed {
		return errAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.cfg.user != "" && !ss.authed {
		return errAuthRequired
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return ss.s.deliver(ss.from, append([]string(nil), ss.to...), raw)
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// testLogger sends the SMTP library's internal errors to the test log
// while the test runs (testing panics on a log after the test ended).
type testLogger struct{ s *Server }

func (l testLogger) Printf(format string, v ...any) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.s.stopped {
		l.s.t.Logf("mailtest: "+strings.TrimSuffix(format, "\n"), v...)
	}
}

func (l testLogger) Println(v ...any) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.s.stopped {
		l.s.t.Log(append([]any{"mailtest:"}, v...)...)
	}
}
